"""The visitor's language: French or English, decided once per conversation.

The widget sends the page's language as message metadata; that is the prior and
always wins. Without it, a small word-list heuristic looks for French and English
markers (function words, frequent shop words, accented letters). It answers only
when the signal is clear: short chat messages are ambiguous ("ok", "top"), and a
statistical detector is unreliable at that length (see docs/bot.md).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

SUPPORTED_LANGUAGES = ("fr", "en")
DEFAULT_LANGUAGE = "en"

_FRENCH_WORDS = """
    je j tu il elle nous vous ils elles te se moi toi lui leur leurs
    le la les l un une des du au aux de d ce cet cette ces c ca qu que qui quoi quel
    quelle quels quelles est suis es sont etes sommes ai as avez avons ont etait
    sera serait peux peut pouvez voudrais veux voulez faut fait faites dois doit
    mon ma mes ton ta tes son sa ses notre nos votre vos et ou mais donc car avec
    sans pour par sur sous chez dans entre vers pas ne plus tres trop aussi encore
    deja oui non merci bonjour bonsoir salut coucou revoir bientot bonne journee
    soiree svp stp combien comment pourquoi quand livraison livrer livre commande
    commander colis paiement payer carte retour retourner rembourser remboursement
    garantie magasin boutique horaires ouvert ouverts ferme fermes promo promos
    soldes reduction code stock dispo disponible rupture conseil conseiller
    conseillez besoin aide aider parler quelqu personne humain vrai merci beaucoup
    cordialement probleme reclamation recu arrive abime casse ca va voila
"""

_ENGLISH_WORDS = """
    i me my mine you your yours he she it its we our they their them this that these
    those the an of to in on at by from with without for about into is are was
    were be been am do does did don doesn didn can could would should will shall may
    might must have has had not no yes yeah yep nope please thanks thank cheers hello
    hi hey bye goodbye morning evening how what when where why which who whom much
    many long shipping ship delivery deliver order ordered orders parcel payment pay
    card refund return returns warranty guarantee shop opening hours open
    closed sale sales discount code stock available advice advise recommend need
    help talk speak someone person human real agent problem issue complaint received
    broken damaged late arrived there here just any some get got
"""

FRENCH_MARKERS = frozenset(_FRENCH_WORDS.split())
ENGLISH_MARKERS = frozenset(_ENGLISH_WORDS.split())

# Words present in both lists add nothing; keep the sets disjoint on purpose.
_AMBIGUOUS = FRENCH_MARKERS & ENGLISH_MARKERS
FRENCH_ONLY = FRENCH_MARKERS - _AMBIGUOUS
ENGLISH_ONLY = ENGLISH_MARKERS - _AMBIGUOUS

_FRENCH_LETTERS = re.compile(r"[éèêëàâîïôûùüçœ]", re.IGNORECASE)
_WORD = re.compile(r"[a-z]+")


def strip_accents(text: str) -> str:
    """'Réfrigérateur' -> 'refrigerateur' (lowercased, combining marks dropped)."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def normalise_language(value: Any) -> str | None:
    """'fr', 'FR', 'fr-CA', 'fr_FR' -> 'fr'; anything unsupported -> None."""
    if not isinstance(value, str):
        return None
    code = value.strip().lower().replace("_", "-").split("-")[0]
    return code if code in SUPPORTED_LANGUAGES else None


def language_scores(text: str) -> tuple[float, float]:
    """(French score, English score) of a message: marker words, accents count 1.5."""
    words = _WORD.findall(strip_accents(text))
    french = float(sum(word in FRENCH_ONLY for word in words))
    english = float(sum(word in ENGLISH_ONLY for word in words))
    if _FRENCH_LETTERS.search(text):
        french += 1.5
    return french, english


def detect_language(text: str | None, *, margin: float = 1.0) -> str | None:
    """'fr' or 'en' when one side leads by at least `margin`; None when unclear."""
    if not text:
        return None
    french, english = language_scores(text)
    if french - english >= margin:
        return "fr"
    if english - french >= margin:
        return "en"
    return None


def language_from_metadata(metadata: Mapping[str, Any] | None) -> str | None:
    """The supported language the widget declared in a message's metadata, if any."""
    if not isinstance(metadata, Mapping):
        return None
    return normalise_language(metadata.get("language"))

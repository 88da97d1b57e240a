"""The country codes the hub takes from its operator: ISO 3166-1 alpha-2, the 249 officially
assigned (a list of its own: no dependency for it). ``member add``/``edit --country KE`` and
``publish --country`` are checked against it; a row stored before the check with another code
still loads and shows as it is."""

from __future__ import annotations

_TABLE = """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ
    BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ
    CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ
    DE DJ DK DM DO DZ
    EC EE EG EH ER ES ET
    FI FJ FK FM FO FR
    GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY
    HK HM HN HR HT HU
    ID IE IL IM IN IO IQ IR IS IT
    JE JM JO JP
    KE KG KH KI KM KN KP KR KW KY KZ
    LA LB LC LI LK LR LS LT LU LV LY
    MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ
    NA NC NE NF NG NI NL NO NP NR NU NZ
    OM
    PA PE PF PG PH PK PL PM PN PR PS PT PW PY
    QA
    RE RO RS RU RW
    SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ
    TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ
    UA UG UM US UY UZ
    VA VC VE VG VI VN VU
    WF WS
    YE YT
    ZA ZM ZW
"""
#: ISO 3166-1 alpha-2, officially assigned codes (249).
ISO_3166_ALPHA2 = frozenset(_TABLE.split())


def country_problem(code: str, option: str = "--country") -> str | None:
    """Why ``code`` (as the operator typed it; any case) is not a country code, in the words of
    a one-line refusal; None when it is one."""
    if code.upper() in ISO_3166_ALPHA2:
        return None
    shown = code if len(code) <= 40 else code[:40] + "…"
    return f"{option} takes a country's ISO 3166 two-letter code, e.g. KE, not {shown!r}."

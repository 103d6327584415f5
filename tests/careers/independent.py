"""An independent path to the chapter's key figures: the raw files and a hand-written crosswalk.

Tests compare the package's results with these, so a broken join, weighting or threshold in
``aigc_lessons.careers`` makes them fail.
"""

from collections import defaultdict

# OEWS May 2021 publishes these SOC 2018 codes under one merged ("hybrid") code each.
HYBRID = {
    "13-1021": "13-1020", "13-1022": "13-1020", "13-1023": "13-1020", "13-2022": "13-2020",
    "13-2023": "13-2020", "21-1011": "21-1018", "21-1014": "21-1018", "25-2055": "25-2052",
    "25-2056": "25-2052", "25-9042": "25-9045", "25-9043": "25-9045", "29-2011": "29-2010",
    "29-2012": "29-2010", "31-1121": "31-1120", "31-1122": "31-1120", "39-7011": "39-7010",
    "39-7012": "39-7010", "47-4091": "47-4090", "47-4099": "47-4090", "51-2022": "51-2028",
    "51-2023": "51-2028", "51-2092": "51-2090", "53-1042": "53-1047", "53-1043": "53-1047",
    "53-1044": "53-1047",
}


def employment(raw, code):
    """OEWS TOT_EMP of a detailed code, from the raw file."""
    return float(raw["detailed"][code]["TOT_EMP"].replace(",", ""))


def independent_shares(raw, column, threshold, strict):
    """Mean rating per OEWS code (hand crosswalk), weighted by employment, share at the threshold."""
    ratings = defaultdict(list)
    for row in raw["occ"]:
        soc = row["O*NET-SOC Code"][:7]
        code = soc if soc in raw["detailed"] else HYBRID.get(soc)
        if code is not None:
            ratings[code].append(float(row[column]))
    num = den = 0.0
    for code, values in ratings.items():
        emp = employment(raw, code)
        mean = sum(values) / len(values)
        den += emp
        if (mean > threshold) if strict else (mean >= threshold):
            num += emp
    return num / den, den

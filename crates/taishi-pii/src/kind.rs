//! What a finding is (its kind) and why it was believed (its reasons), each
//! with a zh-CN and an English label.

use std::fmt;

/// The language of a user-visible string.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Lang {
    /// Simplified Chinese (zh-CN), the default: the operators are in China.
    #[default]
    Zh,
    /// English.
    En,
}

macro_rules! kinds {
    ($($v:ident = $code:literal, $zh:literal, $en:literal;)*) => {
        /// The kind of a finding.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum Kind { $($v,)* }

        impl Kind {
            /// Every kind, in declaration order.
            pub const ALL: &'static [Kind] = &[$(Kind::$v,)*];

            /// The stable machine code (used in data files, JSON and hashes).
            pub fn code(self) -> &'static str {
                match self { $(Kind::$v => $code,)* }
            }

            /// The kind with this code.
            pub fn from_code(code: &str) -> Option<Kind> {
                match code { $($code => Some(Kind::$v),)* _ => None }
            }

            /// A label for people.
            pub fn label(self, lang: Lang) -> &'static str {
                match (self, lang) {
                    $((Kind::$v, Lang::Zh) => $zh, (Kind::$v, Lang::En) => $en,)*
                }
            }
        }
    };
}

kinds! {
    CnResidentId = "cn_resident_id", "居民身份证号码", "resident ID number";
    Uscc = "uscc", "统一社会信用代码", "unified social credit code";
    CnMobile = "cn_mobile", "手机号码", "mobile number";
    BankCard = "bank_card", "银行卡号", "bank card number";
    Passport = "passport", "护照号码", "passport number";
    HkMacaoPermit = "hk_macao_permit", "港澳通行证号码", "Hong Kong/Macao travel permit";
    TaiwanPermit = "taiwan_permit", "台湾居民来往大陆通行证号码", "Taiwan travel permit";
    CnPlate = "cn_plate", "机动车号牌", "vehicle plate";
    Email = "email", "电子邮件地址", "e-mail address";
    Ipv4 = "ipv4", "IPv4 地址", "IPv4 address";
    Ipv6 = "ipv6", "IPv6 地址", "IPv6 address";
    PersonName = "person_name", "姓名", "person name";
    Address = "address", "地址", "address";
    PrivateKey = "private_key", "私钥", "private key";
    CloudAccessKey = "cloud_access_key", "云服务访问密钥", "cloud access key";
    Jwt = "jwt", "JWT 令牌", "JSON Web Token";
    GithubToken = "github_token", "GitHub 令牌", "GitHub token";
    UrlPassword = "url_password", "URL 中的密码", "password in a URL";
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl serde::Serialize for Kind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> serde::Deserialize<'de> for Kind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Kind, D::Error> {
        let code = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Kind::from_code(&code)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown kind `{code}`")))
    }
}

/// A set of kinds (which detectors are on, which kinds a context word raises).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct KindSet(u32);

impl KindSet {
    /// No kind.
    pub const EMPTY: KindSet = KindSet(0);

    /// Every kind.
    pub fn all() -> KindSet {
        Kind::ALL.iter().fold(KindSet::EMPTY, |s, k| s.with(*k))
    }

    /// This set and `k`.
    pub const fn with(self, k: Kind) -> KindSet {
        KindSet(self.0 | 1 << k as u32)
    }

    /// This set without `k`.
    pub const fn without(self, k: Kind) -> KindSet {
        KindSet(self.0 & !(1 << k as u32))
    }

    /// Whether `k` is in the set.
    pub const fn contains(self, k: Kind) -> bool {
        self.0 & (1 << k as u32) != 0
    }

    /// The union.
    pub const fn union(self, o: KindSet) -> KindSet {
        KindSet(self.0 | o.0)
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl FromIterator<Kind> for KindSet {
    fn from_iter<I: IntoIterator<Item = Kind>>(it: I) -> Self {
        it.into_iter().fold(KindSet::EMPTY, |s, k| s.with(k))
    }
}

/// Why a candidate was believed (or believed less). Names borrowed from the
/// embedded tables are `'static`: the tables live for the whole program.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Reason {
    /// The check digit/character of the named standard holds.
    Checksum(&'static str),
    /// The region code is a known GB/T 2260 code (the name is the county or prefecture).
    Region(&'static str),
    /// The province is known but the county is not in the current table (abolished
    /// counties keep their codes on old cards).
    RegionCountyUnknown(&'static str),
    /// The province is known but neither the prefecture nor the county is.
    RegionCityUnknown(&'static str),
    /// A valid date of birth (YYYYMMDD).
    BirthDate(u32),
    /// The legacy 15-digit form, which has no check digit.
    Legacy15,
    /// A current mobile segment (the carrier).
    MobileSegment(&'static str),
    /// A +86/0086 country prefix.
    CountryPrefix,
    /// A known card issuer range (the network).
    Issuer(&'static str),
    /// Luhn holds but the issuer range is unknown.
    IssuerUnknown,
    /// The value has the format of this kind (there is no check digit to prove it).
    Format,
    /// A context word near the value.
    Context(&'static str),
    /// A word near the value that marks look-alikes (订单号, serial, trace).
    AntiContext(&'static str),
    /// A known surname.
    Surname,
    /// Address parts: administrative levels and detail (road, number) found.
    AddressParts { levels: u8, detail: bool },
    /// The issuer of a secret (AWS, Alibaba Cloud, Tencent Cloud, GitHub, PEM type).
    SecretIssuer(&'static str),
    /// The JWT header decodes to JSON naming an algorithm.
    JwtHeader,
    /// An address reserved for private, loopback or documentation use.
    IpSpecial,
    /// The organisation-code part passes its own GB 11714 check too.
    OrgCodeChecksum,
}

impl Reason {
    /// The reason for people.
    pub fn text(&self, lang: Lang) -> String {
        use Reason::*;
        let (zh, en): (String, String) = match self {
            Checksum(std) => (
                format!("{std} 校验位正确"),
                format!("{std} check digit holds"),
            ),
            Region(n) => (
                format!("行政区划代码有效（{n}）"),
                format!("valid region code ({n})"),
            ),
            RegionCountyUnknown(p) => (
                format!("省级代码有效（{p}），县级代码不在现行表中（可能已撤销）"),
                format!(
                    "province valid ({p}); county code not in the current table (may be abolished)"
                ),
            ),
            RegionCityUnknown(p) => (
                format!("省级代码有效（{p}），地市代码未知"),
                format!("province valid ({p}); prefecture code unknown"),
            ),
            BirthDate(d) => (
                format!("出生日期有效（{d}）"),
                format!("valid date of birth ({d})"),
            ),
            Legacy15 => (
                "15 位旧版号码（无校验位）".into(),
                "legacy 15-digit form (no check digit)".into(),
            ),
            MobileSegment(c) => (
                format!("现行号段（{c}）"),
                format!("allocated mobile segment ({c})"),
            ),
            CountryPrefix => ("带 +86 国家码".into(), "+86 country prefix".into()),
            Issuer(n) => (
                format!("已知发卡机构号段（{n}）"),
                format!("known issuer range ({n})"),
            ),
            IssuerUnknown => (
                "Luhn 校验通过，发卡机构号段未知".into(),
                "Luhn holds; issuer range unknown".into(),
            ),
            Format => (
                "格式符合（无校验位可验证）".into(),
                "format matches (no check digit to verify)".into(),
            ),
            Context(w) => (
                format!("附近有上下文词“{w}”"),
                format!("context word \"{w}\" nearby"),
            ),
            AntiContext(w) => (
                format!("附近有“{w}”，可能是订单号等相似号码，置信度降低"),
                format!("\"{w}\" nearby suggests an order or serial number: lower confidence"),
            ),
            Surname => (
                "以常见姓氏开头".into(),
                "starts with a known surname".into(),
            ),
            AddressParts {
                levels,
                detail: true,
            } => (
                format!("{levels} 级行政区划 + 街路门牌"),
                format!("{levels} administrative level(s) + street detail"),
            ),
            AddressParts {
                levels,
                detail: false,
            } => (
                format!("{levels} 级行政区划"),
                format!("{levels} administrative level(s)"),
            ),
            SecretIssuer(n) => (format!("{n} 密钥格式"), format!("{n} key format")),
            JwtHeader => (
                "JWT 头部可解码且含算法".into(),
                "JWT header decodes and names an algorithm".into(),
            ),
            IpSpecial => (
                "私有/环回/保留地址，置信度降低".into(),
                "private, loopback or reserved address: lower confidence".into(),
            ),
            OrgCodeChecksum => (
                "组织机构代码部分 GB 11714 校验正确".into(),
                "organisation-code part passes GB 11714".into(),
            ),
        };
        match lang {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }
}

/// The reasons of one finding: at most four, kept inline (a finding is made
/// millions of times a second; a heap allocation each would cost more than
/// finding it). Dereferences to a slice.
#[derive(Clone, Copy)]
pub struct Reasons {
    len: u8,
    items: [Reason; Reasons::MAX],
}

impl Reasons {
    /// The most reasons a finding has (validation steps plus one context word).
    pub const MAX: usize = 4;

    /// The first `MAX` of `rs` and then `extra`, as room allows.
    pub fn new(rs: &[Reason], extra: Option<Reason>) -> Reasons {
        let mut r = Reasons {
            len: 0,
            items: [Reason::Format; Self::MAX],
        };
        for x in rs.iter().copied().chain(extra) {
            if (r.len as usize) < Self::MAX {
                r.items[r.len as usize] = x;
                r.len += 1;
            }
        }
        r
    }
}

impl std::ops::Deref for Reasons {
    type Target = [Reason];
    fn deref(&self) -> &[Reason] {
        &self.items[..self.len as usize]
    }
}

impl PartialEq for Reasons {
    fn eq(&self, o: &Reasons) -> bool {
        **self == **o
    }
}

impl std::fmt::Debug for Reasons {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

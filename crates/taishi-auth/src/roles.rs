//! Permissions and roles, with the separation of duties (三权分立) that
//! GB/T 22239-2019 level 3 asks for.
//!
//! A route needs one [`Permission`]; a role is a named set of them; an
//! account holds one or more roles and may do what their union grants
//! ([`Grants`]). Six roles are built in ([`BuiltinRole`]); custom roles are
//! any other set of permissions ([`CustomRole::new`] checks them).
//!
//! The separation: the system administrator's duty (users, organisations,
//! roles) and the audit administrator's duty (reading the trail) never meet
//! in one account, whatever roles it holds: [`Grants::check_separation`]
//! refuses such a union, for custom roles as for the built-in ones, so a
//! custom role cannot be the way round it.

use std::fmt;

use crate::Lang;

macro_rules! permissions {
    ($( $(#[$doc:meta])* $v:ident = $name:literal, $zh:literal, $en:literal; )*) => {
        /// What a route may require of its caller. Each route of serve's
        /// table names one; the guard checks it before the handler runs,
        /// and the OpenAPI document carries it as `x-permission`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum Permission {
            $( $(#[$doc])* $v, )*
        }

        impl Permission {
            pub const ALL: &'static [Permission] = &[$(Permission::$v),*];

            /// The name on the wire and in the OpenAPI document (`alerts:write`).
            pub fn name(self) -> &'static str {
                match self { $(Permission::$v => $name,)* }
            }

            /// What it allows, for people.
            pub fn label(self, lang: Lang) -> &'static str {
                match (self, lang) {
                    $((Permission::$v, Lang::Zh) => $zh, (Permission::$v, Lang::En) => $en,)*
                }
            }

            pub fn parse(name: &str) -> Option<Permission> {
                match name { $($name => Some(Permission::$v),)* _ => None }
            }
        }
    };
}

permissions! {
    /// One's own session and password.
    Account = "account", "本人账号与密码", "own account and password";
    /// Creating, listing and revoking one's own API tokens.
    TokensWrite = "tokens:write", "管理本人 API 令牌", "manage own API tokens";
    UsersRead = "users:read", "查看用户", "list users";
    /// Users, their roles, and every user's tokens.
    UsersWrite = "users:write", "管理用户与角色", "manage users and roles";
    OrgsRead = "orgs:read", "查看组织", "list organisations";
    /// Creating, renaming and removing organisations below one's own.
    OrgsWrite = "orgs:write", "管理组织", "manage organisations";
    AlertsRead = "alerts:read", "查看告警", "read alerts";
    /// Triage: acknowledge, assign, close, reopen, comment.
    AlertsWrite = "alerts:write", "处置告警", "triage alerts";
    /// Listing rules and validating rule text.
    RulesRead = "rules:read", "查看规则", "read rules";
    /// Uploading, deleting, switching and reloading rules.
    RulesWrite = "rules:write", "管理规则", "manage rules";
    IntelRead = "intel:read", "查看威胁情报", "read threat intel";
    /// Imports and pulls (each followed by a retro-hunt).
    IntelWrite = "intel:write", "导入威胁情报", "import threat intel";
    /// Adding and removing scheduled feeds (credentials, outbound fetches).
    IntelFeeds = "intel:feeds", "管理情报源", "manage intel feeds";
    /// Searching events and listing their fields.
    Search = "search", "检索事件", "search events";
    /// Saving, changing, scheduling and deleting saved searches (reading
    /// them comes with `search`). A scheduled one raises alerts.
    SearchesWrite = "searches:write", "管理保存的搜索", "manage saved searches";
    /// The overview and its live stream.
    OverviewRead = "overview:read", "查看态势总览", "read the overview";
    /// The alert outputs, secrets masked.
    SettingsRead = "settings:read", "查看告警输出", "read alert outputs";
    /// Sending a test notification through a configured output.
    OutputsTest = "outputs:test", "测试告警输出", "test alert outputs";
    /// Replacing the alert outputs (webhooks, robots, mail, syslog).
    OutputsWrite = "outputs:write", "管理告警输出", "manage alert outputs";
    /// Health, listeners and Prometheus metrics.
    SystemRead = "system:read", "查看系统状态", "read system health";
    /// Reading, verifying and exporting the audit trail.
    AuditRead = "audit:read", "查阅审计记录", "read the audit trail";
    /// HTTP ingest (NDJSON, `_bulk`), with an API token only.
    Ingest = "ingest", "接入数据", "send events";
    /// The data inventory: where personal information was seen (masked
    /// examples, people counts, grades).
    DataRead = "data:read", "查看数据资产目录", "read the data inventory";
    /// Incidents: the queue, an incident and its report.
    IncidentsRead = "incidents:read", "查看安全事件", "read incidents";
    /// Working incidents: create, group, transition, assign, grade, report.
    IncidentsWrite = "incidents:write", "处置安全事件", "handle incidents";
    /// The asset register, vulnerabilities, risk scores and early warnings.
    AssetsRead = "assets:read", "查看资产与风险", "read assets and risk";
    /// Importing assets, scans and vulnerability feeds; setting a
    /// finding's remediation.
    AssetsWrite = "assets:write", "管理资产与漏洞", "manage assets and vulnerabilities";
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl serde::Serialize for Permission {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for Permission {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Permission::parse(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown permission `{s}`")))
    }
}

impl schemars::JsonSchema for Permission {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Permission".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let names: Vec<&str> = Permission::ALL.iter().map(|p| p.name()).collect();
        schemars::json_schema!({"type": "string", "enum": names})
    }
}

/// A set of permissions (a bit each).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Grants(u64);

impl Grants {
    pub const NONE: Grants = Grants(0);

    pub fn of(ps: &[Permission]) -> Grants {
        ps.iter().fold(Grants::NONE, |g, p| g.with(*p))
    }

    pub fn with(self, p: Permission) -> Grants {
        Grants(self.0 | 1 << p as u8)
    }

    pub fn has(self, p: Permission) -> bool {
        self.0 & (1 << p as u8) != 0
    }

    pub fn union(self, o: Grants) -> Grants {
        Grants(self.0 | o.0)
    }

    pub fn intersect(self, o: Grants) -> Grants {
        Grants(self.0 & o.0)
    }

    /// Whether every permission of `o` is here too.
    pub fn covers(self, o: Grants) -> bool {
        o.0 & !self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Permission> {
        Permission::ALL
            .iter()
            .copied()
            .filter(move |p| self.has(*p))
    }

    /// Refuses a set that holds the system administrator's duty and the
    /// audit administrator's together (三权分立).
    pub fn check_separation(self) -> Result<(), RoleError> {
        let system = SYSTEM_DUTY.iter().find(|p| self.has(**p));
        match system {
            Some(s) if self.has(Permission::AuditRead) => Err(RoleError::Separation {
                system: *s,
                audit: Permission::AuditRead,
            }),
            _ => Ok(()),
        }
    }
}

/// The permissions that make up the system administrator's duty: with
/// them an account can make accounts and hand out roles, so the audit
/// trail must stay out of its reach.
const SYSTEM_DUTY: &[Permission] = &[Permission::UsersWrite, Permission::OrgsWrite];

/// What every role may do with its own account.
const OWN: &[Permission] = &[Permission::Account, Permission::TokensWrite];

/// Reading what Taishi sees.
const READ: &[Permission] = &[
    Permission::AlertsRead,
    Permission::RulesRead,
    Permission::IntelRead,
    Permission::Search,
    Permission::OverviewRead,
    Permission::SettingsRead,
    Permission::SystemRead,
    Permission::OrgsRead,
    Permission::IncidentsRead,
    Permission::AssetsRead,
];

macro_rules! roles {
    ($( $(#[$doc:meta])* $v:ident = $id:literal, $zh:literal, $en:literal, [$($g:expr),* $(,)?]; )*) => {
        /// The roles every Taishi has.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum BuiltinRole {
            $( $(#[$doc])* $v, )*
        }

        impl BuiltinRole {
            pub const ALL: &'static [BuiltinRole] = &[$(BuiltinRole::$v),*];

            /// The id stored with accounts and tokens.
            pub fn id(self) -> &'static str {
                match self { $(BuiltinRole::$v => $id,)* }
            }

            pub fn label(self, lang: Lang) -> &'static str {
                match (self, lang) {
                    $((BuiltinRole::$v, Lang::Zh) => $zh, (BuiltinRole::$v, Lang::En) => $en,)*
                }
            }

            pub fn parse(id: &str) -> Option<BuiltinRole> {
                match id { $($id => Some(BuiltinRole::$v),)* _ => None }
            }

            pub fn grants(self) -> Grants {
                match self {
                    $(BuiltinRole::$v => {
                        let mut g = Grants::of(OWN);
                        $( g = g.union(Grants::of($g)); )*
                        g
                    })*
                }
            }
        }
    };
}

roles! {
    /// 系统管理员: users, organisations, roles, listeners and ingest
    /// tokens, system health. No alert handling, no events, no audit.
    SysAdmin = "sysadmin", "系统管理员", "System administrator", [&[
        Permission::UsersRead, Permission::UsersWrite, Permission::OrgsRead,
        Permission::OrgsWrite, Permission::SystemRead, Permission::SettingsRead,
        Permission::Ingest,
    ]];
    /// 安全管理员: rules, intel and its feeds, alert outputs (the security
    /// policy), reading what the policy acts on.
    SecAdmin = "secadmin", "安全管理员", "Security administrator", [READ, &[
        Permission::RulesWrite, Permission::IntelWrite, Permission::IntelFeeds,
        Permission::OutputsWrite, Permission::OutputsTest, Permission::SearchesWrite,
        Permission::DataRead, Permission::AssetsWrite,
    ]];
    /// 审计管理员: reads, verifies and exports the audit trail, nothing else.
    Auditor = "auditor", "审计管理员", "Audit administrator", [&[Permission::AuditRead]];
    /// Hunts and triages: alerts, searches, rule writing, intel imports,
    /// sending events.
    Analyst = "analyst", "安全分析员", "Analyst", [READ, &[
        Permission::AlertsWrite, Permission::RulesWrite, Permission::IntelWrite,
        Permission::OutputsTest, Permission::Ingest, Permission::SearchesWrite,
        Permission::IncidentsWrite, Permission::AssetsWrite,
    ]];
    /// Works alerts and incidents to closure.
    Responder = "responder", "应急响应员", "Responder", [READ, &[
        Permission::AlertsWrite, Permission::IncidentsWrite,
    ]];
    /// Reads; manages only its own account and tokens.
    Viewer = "viewer", "只读用户", "Viewer", [READ];
}

/// The roles an account made by an older Taishi held under the one
/// `admin` role: everything but the audit trail, which did not exist.
pub const LEGACY_ADMIN: &[BuiltinRole] = &[
    BuiltinRole::SysAdmin,
    BuiltinRole::SecAdmin,
    BuiltinRole::Analyst,
];

/// A role defined by an organisation's administrators.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CustomRole {
    /// `[a-z0-9_-]`, 2–32 characters, not a built-in id.
    pub id: String,
    /// What people see.
    pub name: String,
    pub permissions: Vec<Permission>,
}

impl CustomRole {
    pub fn new(
        id: &str,
        name: &str,
        permissions: Vec<Permission>,
    ) -> Result<CustomRole, RoleError> {
        let valid = (2..=32).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !valid {
            return Err(RoleError::BadId(id.to_string()));
        }
        if BuiltinRole::parse(id).is_some() || id == "admin" {
            return Err(RoleError::Builtin(id.to_string()));
        }
        if name.trim().is_empty() || name.chars().count() > 64 {
            return Err(RoleError::BadName);
        }
        let mut permissions = permissions;
        permissions.sort();
        permissions.dedup();
        Grants::of(&permissions).check_separation()?;
        Ok(CustomRole {
            id: id.to_string(),
            name: name.trim().to_string(),
            permissions,
        })
    }

    pub fn grants(&self) -> Grants {
        Grants::of(OWN).union(Grants::of(&self.permissions))
    }
}

/// Resolves role ids (built-in first, then `custom`) to the union of what
/// they grant, refusing unknown ids and a union that breaks the separation
/// of duties.
pub fn grants_of<'a>(
    roles: impl IntoIterator<Item = &'a str>,
    custom: impl Fn(&str) -> Option<Grants>,
) -> Result<Grants, RoleError> {
    let mut g = Grants::NONE;
    let mut any = false;
    for r in roles {
        any = true;
        g = g.union(match BuiltinRole::parse(r) {
            Some(b) => b.grants(),
            None => custom(r).ok_or_else(|| RoleError::Unknown(r.to_string()))?,
        });
    }
    if !any {
        return Err(RoleError::NoRole);
    }
    g.check_separation()?;
    Ok(g)
}

/// Why a role or a set of roles is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoleError {
    #[error("role `{0}` is neither built in ({builtin}) nor a custom role here", builtin = builtin_ids())]
    Unknown(String),
    #[error("an account needs at least one role")]
    NoRole,
    #[error("role id `{0}`: use 2–32 of a–z, 0–9, `_` and `-`")]
    BadId(String),
    #[error("role id `{0}` is a built-in role's; choose another id")]
    Builtin(String),
    #[error("a role's name must be 1–64 characters")]
    BadName,
    #[error("separation of duties: `{system}` (system administration) and `{audit}` (audit) cannot be held by one account or role; give the audit duty to another account")]
    Separation {
        system: Permission,
        audit: Permission,
    },
}

impl RoleError {
    /// The message in zh-CN.
    pub fn message_zh(&self) -> String {
        match self {
            RoleError::Unknown(r) => format!("角色 `{r}` 既非内置角色（{}）也非本组织的自定义角色", builtin_ids()),
            RoleError::NoRole => "账号至少需要一个角色".into(),
            RoleError::BadId(r) => format!("角色标识 `{r}`：请用 2–32 个 a–z、0–9、`_`、`-` 字符"),
            RoleError::Builtin(r) => format!("角色标识 `{r}` 已被内置角色使用，请换一个"),
            RoleError::BadName => "角色名称须为 1–64 个字符".into(),
            RoleError::Separation { system, audit } => format!(
                "三权分立：系统管理权限 `{system}` 与审计权限 `{audit}` 不能由同一账号或角色持有，请将审计职责交给另一账号"
            ),
        }
    }
}

fn builtin_ids() -> String {
    BuiltinRole::ALL
        .iter()
        .map(|r| r.id())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use Permission as P;

    #[test]
    fn the_three_duties_stay_apart() {
        let sys = BuiltinRole::SysAdmin.grants();
        let sec = BuiltinRole::SecAdmin.grants();
        let aud = BuiltinRole::Auditor.grants();
        assert!(sys.has(P::UsersWrite) && !sys.has(P::AlertsWrite) && !sys.has(P::AuditRead));
        assert!(!sys.has(P::AlertsRead) && !sys.has(P::Search));
        assert!(sec.has(P::RulesWrite) && sec.has(P::IntelFeeds) && sec.has(P::OutputsWrite));
        assert!(!sec.has(P::UsersWrite) && !sec.has(P::AuditRead));
        assert_eq!(
            aud.iter().collect::<Vec<_>>(),
            vec![P::Account, P::TokensWrite, P::AuditRead]
        );
        let none = |_: &str| None;
        assert!(matches!(
            grants_of(["sysadmin", "auditor"], none),
            Err(RoleError::Separation { .. })
        ));
        assert!(grants_of(["sysadmin", "secadmin", "analyst"], none).is_ok());
        assert!(matches!(grants_of([], none), Err(RoleError::NoRole)));
        assert!(matches!(
            grants_of(["root"], none),
            Err(RoleError::Unknown(_))
        ));
    }

    #[test]
    fn a_custom_role_cannot_join_the_duties() {
        let err = CustomRole::new("ops", "Ops", vec![P::UsersWrite, P::AuditRead]).unwrap_err();
        assert!(matches!(err, RoleError::Separation { .. }));
        assert!(err.message_zh().contains("三权分立"));
        assert!(CustomRole::new("viewer", "x", vec![]).is_err());
        assert!(CustomRole::new("A", "x", vec![]).is_err());
        let r = CustomRole::new(
            "hunter",
            "Hunter",
            vec![P::Search, P::Search, P::AlertsRead],
        )
        .unwrap();
        assert_eq!(r.permissions, vec![P::AlertsRead, P::Search]);
        // A custom role beside a built-in one: the union is checked too.
        let audit = CustomRole::new("aud2", "Audit 2", vec![P::AuditRead]).unwrap();
        let lookup = |id: &str| (id == "aud2").then(|| audit.grants());
        assert!(grants_of(["aud2"], lookup).is_ok());
        assert!(grants_of(["sysadmin", "aud2"], lookup).is_err());
    }

    #[test]
    fn names_are_unique_and_round_trip() {
        let names: std::collections::HashSet<_> =
            Permission::ALL.iter().map(|p| p.name()).collect();
        assert_eq!(names.len(), Permission::ALL.len());
        assert!(Permission::ALL.len() < 64);
        for p in Permission::ALL {
            assert_eq!(Permission::parse(p.name()), Some(*p));
            assert!(!p.label(Lang::Zh).is_empty());
        }
        for r in BuiltinRole::ALL {
            assert_eq!(BuiltinRole::parse(r.id()), Some(*r));
            assert!(r.grants().has(P::Account));
        }
        assert_eq!(
            serde_json::to_value(P::AlertsWrite).unwrap(),
            "alerts:write"
        );
    }
}

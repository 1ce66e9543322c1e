//! The authentication and account events inside syslog messages (sshd,
//! sudo, su, PAM, useradd/groupadd/passwd…), mapped to ECS the way
//! filebeat's `system.auth` and Wazuh's decoders do, so detection rules
//! can ask for `event.action: ssh_login AND event.outcome: failure` instead
//! of matching message text.
//!
//! Field names beside ECS follow filebeat (`system.auth.ssh.method`,
//! `system.auth.sudo.*`) so existing queries keep working.

use std::net::IpAddr;

use taishi_event::{ecs, Event, Value};

/// Adds what the message of program `app` says about authentication.
pub fn enrich(app: &str, msg: &str, ev: &mut Event) {
    let msg = strip_prefixes(msg.trim_end());
    let done = match app {
        a if a.starts_with("sshd") => sshd(msg, ev),
        "sudo" => sudo(msg, ev),
        "su" => su(msg, ev),
        "useradd" | "adduser" => useradd(msg, ev),
        "groupadd" | "addgroup" => groupadd(msg, ev),
        "userdel" | "groupdel" | "usermod" | "passwd" => account_change(app, msg, ev),
        _ => false,
    };
    if !done {
        pam(msg, ev);
    }
}

/// `error: `, `fatal: ` and Solaris' `[ID 800047 auth.info] ` say nothing
/// about the event itself.
fn strip_prefixes(mut msg: &str) -> &str {
    loop {
        if let Some(r) = msg
            .strip_prefix("error: ")
            .or_else(|| msg.strip_prefix("fatal: "))
        {
            msg = r;
        } else if msg.starts_with("[ID ") {
            match msg.find("] ") {
                Some(i) => msg = &msg[i + 2..],
                None => return msg,
            }
        } else {
            return msg;
        }
    }
}

fn categorize(ev: &mut Event, cats: &[&str], types: &[&str], action: &str, outcome: Option<&str>) {
    ev.push(
        ecs::EVENT_CATEGORY,
        Value::Array(cats.iter().map(|c| Value::from(*c)).collect()),
    );
    ev.push(
        ecs::EVENT_TYPE,
        Value::Array(types.iter().map(|c| Value::from(*c)).collect()),
    );
    ev.push(ecs::EVENT_ACTION, action);
    if let Some(o) = outcome {
        ev.push(ecs::EVENT_OUTCOME, o);
    }
}

/// A remote end as sshd prints it: an address (`::ffff:` mapped ones
/// unwrapped) or a name.
fn push_source(ev: &mut Event, host: &str) {
    let host = host.trim_end_matches([',', ';', ':']);
    if host.is_empty() {
        return;
    }
    let bare = host.strip_prefix("::ffff:").filter(|h| h.contains('.'));
    match bare.unwrap_or(host).parse::<IpAddr>() {
        Ok(ip) => ev.push(ecs::SOURCE_IP, ip),
        Err(_) => ev.push("source.domain", host),
    }
    ev.push("source.address", host);
}

fn push_port(ev: &mut Event, port: &str) {
    if let Ok(p) = port.parse::<u16>() {
        ev.push(ecs::SOURCE_PORT, p);
    }
}

fn push_user(ev: &mut Event, user: &str) {
    if !user.is_empty() {
        ev.push(ecs::USER_NAME, user);
    }
}

/// Finds the ` from HOST[ port N][ sshN]` that ends the message (or is
/// followed by `: ` auth info or ` [preauth]`), skipping earlier look-alikes
/// a user name may carry (`invalid user x from 10.0.0.1 port 1 ssh2 from
/// …`). Returns the text before it, host, port and what follows.
fn from_clause(s: &str) -> Option<(&str, &str, Option<&str>, &str)> {
    let mut search = 0;
    while let Some(i) = s[search..].find("from ").map(|i| i + search) {
        search = i + 1;
        if i > 0 && s.as_bytes()[i - 1] != b' ' {
            continue;
        }
        let after = &s[i + 5..];
        let host_len = after.find(' ').unwrap_or(after.len());
        let host = &after[..host_len];
        let mut rest = &after[host_len..];
        let mut port = None;
        if let Some(r) = rest.strip_prefix(" port ") {
            let n = r.bytes().take_while(u8::is_ascii_digit).count();
            if n > 0 {
                port = Some(&r[..n]);
                rest = &r[n..];
            }
        }
        let mut proto = false;
        if let Some(r) = rest.strip_prefix(" ssh") {
            let n = r.bytes().take_while(u8::is_ascii_digit).count();
            proto = true;
            rest = &r[n..];
        }
        let ends = rest.is_empty()
            || rest.starts_with(" [preauth]")
            || rest.starts_with(" via ")
            || (proto && rest.starts_with(": "));
        if ends && !host.is_empty() {
            return Some((s[..i].trim_end(), host, port, rest));
        }
    }
    None
}

/// `USER HOST port N [preauth]` at the end of a message, read from the right
/// because the user name may contain spaces.
fn user_host_port(s: &str) -> Option<(&str, &str, &str)> {
    let s = s.strip_suffix(" [preauth]").unwrap_or(s);
    let (head, port) = s.rsplit_once(" port ")?;
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    match head.rsplit_once(' ') {
        Some((user, host)) => Some((user, host, port)),
        None => Some(("", head, port)),
    }
}

fn sshd(msg: &str, ev: &mut Event) -> bool {
    for (prefix, ok) in [("Accepted ", true), ("Failed ", false)] {
        let Some(rest) = msg.strip_prefix(prefix) else {
            continue;
        };
        let Some((method, rest)) = rest.split_once(" for ") else {
            return false;
        };
        let Some((user, host, port, tail)) = from_clause(rest) else {
            return false;
        };
        let (user, invalid) = match user.strip_prefix("invalid user ") {
            Some(u) => (u, true),
            None => (user, false),
        };
        if ok {
            categorize(
                ev,
                &["authentication", "session"],
                &["start"],
                "ssh_login",
                Some("success"),
            );
        } else {
            categorize(
                ev,
                &["authentication"],
                &["start"],
                "ssh_login",
                Some("failure"),
            );
        }
        push_user(ev, user);
        push_source(ev, host);
        if let Some(p) = port {
            push_port(ev, p);
        }
        ev.push("system.auth.ssh.event", prefix.trim_end());
        ev.push("system.auth.ssh.method", method);
        if invalid {
            ev.push("system.auth.ssh.invalid_user", true);
        }
        if let Some(sig) = tail.strip_prefix(": ") {
            ev.push("system.auth.ssh.signature", sig);
        }
        return true;
    }
    if let Some(rest) = msg
        .strip_prefix("Invalid user ")
        .or_else(|| msg.strip_prefix("Illegal user "))
    {
        if let Some((user, host, port, _)) = from_clause(rest) {
            categorize(
                ev,
                &["authentication"],
                &["start"],
                "invalid_user",
                Some("failure"),
            );
            push_user(ev, user);
            push_source(ev, host);
            if let Some(p) = port {
                push_port(ev, p);
            }
            ev.push("system.auth.ssh.event", "Invalid");
            return true;
        }
        return false;
    }
    // Pre-authentication disconnects (brute force that gives up or is cut
    // off) and post-login session ends.
    for (prefix, action) in [
        (
            "Connection closed by authenticating user ",
            "ssh_login_aborted",
        ),
        (
            "Connection reset by authenticating user ",
            "ssh_login_aborted",
        ),
        (
            "Disconnected from authenticating user ",
            "ssh_login_aborted",
        ),
        ("Connection closed by invalid user ", "ssh_login_aborted"),
        ("Disconnected from invalid user ", "ssh_login_aborted"),
        ("Disconnecting invalid user ", "ssh_login_aborted"),
        ("Disconnecting authenticating user ", "ssh_login_aborted"),
        ("Disconnected from user ", "ssh_logout"),
    ] {
        if let Some(rest) = msg.strip_prefix(prefix) {
            let rest = rest.split_once(": ").map_or(rest, |(a, _)| a);
            let Some((user, host, port)) = user_host_port(rest) else {
                return false;
            };
            if action == "ssh_logout" {
                categorize(
                    ev,
                    &["authentication", "session"],
                    &["end"],
                    action,
                    Some("success"),
                );
            } else {
                categorize(ev, &["authentication"], &["end"], action, Some("failure"));
            }
            push_user(ev, user);
            push_source(ev, host);
            push_port(ev, port);
            return true;
        }
    }
    for prefix in [
        "Connection closed by ",
        "Connection reset by ",
        "Disconnected from ",
        "Received disconnect from ",
    ] {
        if let Some(rest) = msg.strip_prefix(prefix) {
            let host = rest.split([' ', ':']).next().unwrap_or("");
            if host.is_empty() || !host.bytes().any(|b| b.is_ascii_digit() || b == b'.') {
                return false;
            }
            categorize(
                ev,
                &["network"],
                &["connection", "end"],
                "ssh_disconnect",
                None,
            );
            push_source(ev, host);
            if let Some(p) = rest[host.len()..].strip_prefix(" port ") {
                push_port(ev, p.split([' ', ':']).next().unwrap_or(""));
            }
            return true;
        }
    }
    if let Some(rest) = msg.strip_prefix("Did not receive identification string from ") {
        categorize(
            ev,
            &["network"],
            &["connection"],
            "ssh_dropped_connection",
            Some("failure"),
        );
        let mut it = rest.split(' ');
        push_source(ev, it.next().unwrap_or(""));
        if it.next() == Some("port") {
            push_port(ev, it.next().unwrap_or(""));
        }
        return true;
    }
    if let Some(rest) = msg.strip_prefix("Unable to negotiate with ") {
        categorize(
            ev,
            &["network"],
            &["connection"],
            "ssh_negotiation_failed",
            Some("failure"),
        );
        let mut it = rest.split([' ', ':']);
        push_source(ev, it.next().unwrap_or(""));
        if it.next() == Some("port") {
            push_port(ev, it.next().unwrap_or(""));
        }
        return true;
    }
    if let Some(rest) = msg.strip_prefix("Connection from ") {
        categorize(
            ev,
            &["network"],
            &["connection", "start"],
            "ssh_connection",
            None,
        );
        let mut it = rest.split(' ');
        push_source(ev, it.next().unwrap_or(""));
        if it.next() == Some("port") {
            push_port(ev, it.next().unwrap_or(""));
        }
        return true;
    }
    if let Some(rest) = msg.strip_prefix("ROOT LOGIN REFUSED FROM ") {
        categorize(
            ev,
            &["authentication"],
            &["start"],
            "ssh_login",
            Some("failure"),
        );
        push_user(ev, "root");
        let mut it = rest.split(' ');
        push_source(ev, it.next().unwrap_or(""));
        if it.next() == Some("port") {
            push_port(ev, it.next().unwrap_or(""));
        }
        return true;
    }
    if let Some(rest) = msg.strip_prefix("User ") {
        // `User root from 1.2.3.4 not allowed because not listed in AllowUsers`
        if let Some((user, tail)) = rest.split_once(" from ") {
            if let Some((host, why)) = tail.split_once(" not allowed because ") {
                categorize(
                    ev,
                    &["authentication"],
                    &["start"],
                    "user_not_allowed",
                    Some("failure"),
                );
                push_user(ev, user);
                push_source(ev, host);
                ev.push("event.reason", why);
                return true;
            }
        }
        return false;
    }
    if let Some(rest) = msg.strip_prefix("maximum authentication attempts exceeded for ") {
        if let Some((user, host, port, _)) = from_clause(rest) {
            categorize(
                ev,
                &["authentication"],
                &["start"],
                "ssh_login",
                Some("failure"),
            );
            push_user(ev, user.strip_prefix("invalid user ").unwrap_or(user));
            push_source(ev, host);
            if let Some(p) = port {
                push_port(ev, p);
            }
            return true;
        }
        return false;
    }
    if let Some(rest) = msg.strip_prefix("PAM: ") {
        // `PAM: Authentication failure for [illegal user ]USER from HOST`
        let lower = rest.get(..30).unwrap_or(rest).to_ascii_lowercase();
        if lower.starts_with("authentication failure for ")
            || lower.starts_with("authentication error for ")
            || lower.starts_with("user not known")
        {
            let body = rest.split_once(" for ").map_or("", |(_, b)| b);
            if let Some((user, host, _, _)) = from_clause(body) {
                categorize(
                    ev,
                    &["authentication"],
                    &["start"],
                    "ssh_login",
                    Some("failure"),
                );
                let user = user
                    .strip_prefix("illegal user ")
                    .or_else(|| user.strip_prefix("invalid user "))
                    .unwrap_or(user);
                push_user(ev, user);
                push_source(ev, host);
                return true;
            }
        }
        return false;
    }
    if let Some(rest) = msg.strip_prefix("Disconnecting: Too many authentication failures") {
        categorize(
            ev,
            &["authentication"],
            &["start"],
            "ssh_login",
            Some("failure"),
        );
        let rest = rest.strip_suffix(" [preauth]").unwrap_or(rest);
        if let Some(u) = rest.strip_prefix(" for ") {
            push_user(ev, u.strip_prefix("invalid user ").unwrap_or(u));
        }
        ev.push("event.reason", "too many authentication failures");
        return true;
    }
    if let Some(rest) = msg.strip_prefix("Bad protocol version identification ") {
        if let Some((_, host, port, _)) = from_clause(rest) {
            categorize(
                ev,
                &["network"],
                &["connection"],
                "ssh_bad_protocol",
                Some("failure"),
            );
            push_source(ev, host);
            if let Some(p) = port {
                push_port(ev, p);
            }
            return true;
        }
        return false;
    }
    if let Some(rest) = msg.strip_prefix("Address ") {
        if msg.contains("POSSIBLE BREAK-IN ATTEMPT") {
            categorize(
                ev,
                &["network"],
                &["connection"],
                "reverse_mapping_mismatch",
                None,
            );
            push_source(ev, rest.split(' ').next().unwrap_or(""));
            return true;
        }
    }
    false
}

/// `vagrant : TTY=pts/0 ; PWD=/home/vagrant ; USER=root ; COMMAND=/bin/ls`,
/// with an error such as `user NOT in sudoers ;` before `TTY=` when sudo
/// refused.
fn sudo(msg: &str, ev: &mut Event) -> bool {
    let Some((user, rest)) = msg.split_once(" : ") else {
        return false;
    };
    let user = user.trim();
    if user.is_empty() || user.contains(' ') || !rest.contains("COMMAND=") && !rest.contains("TTY=")
    {
        return false;
    }
    let (head, command) = match rest.split_once("COMMAND=") {
        Some((h, c)) => (h, Some(c)),
        None => (rest, None),
    };
    let mut error = None;
    let (mut tty, mut pwd, mut target) = (None, None, None);
    for part in head.split(" ; ").map(str::trim).filter(|p| !p.is_empty()) {
        if let Some(v) = part.strip_prefix("TTY=") {
            tty = Some(v);
        } else if let Some(v) = part.strip_prefix("PWD=") {
            pwd = Some(v);
        } else if let Some(v) = part.strip_prefix("USER=") {
            target = Some(v);
        } else if part.contains('=') {
            // GROUP=, ENV=, …: kept in the message.
        } else if error.is_none() {
            error = Some(part.trim_end_matches(" ;"));
        }
    }
    let outcome = if error.is_some() {
        "failure"
    } else {
        "success"
    };
    categorize(ev, &["process"], &["start"], "sudo", Some(outcome));
    push_user(ev, user);
    if let Some(t) = target {
        ev.push("user.effective.name", t);
        ev.push("system.auth.sudo.user", t);
    }
    if let Some(c) = command {
        ev.push(ecs::PROCESS_COMMAND_LINE, c);
        ev.push("system.auth.sudo.command", c);
        if let Some(exe) = c.split(' ').next() {
            ev.push(ecs::PROCESS_EXECUTABLE, exe);
        }
    }
    if let Some(t) = tty {
        ev.push("system.auth.sudo.tty", t);
    }
    if let Some(p) = pwd {
        ev.push("process.working_directory", p);
        ev.push("system.auth.sudo.pwd", p);
    }
    if let Some(e) = error {
        ev.push("system.auth.sudo.error", e);
        ev.push("event.reason", e);
    }
    true
}

/// `Successful su for root by vagrant`, `FAILED su for root by vagrant`,
/// `(to root) vagrant on pts/0`.
fn su(msg: &str, ev: &mut Event) -> bool {
    let (ok, rest) = if let Some(r) = msg.strip_prefix("Successful su for ") {
        (true, r)
    } else if let Some(r) = msg
        .strip_prefix("FAILED su for ")
        .or_else(|| msg.strip_prefix("FAILED SU (to "))
    {
        (false, r)
    } else if let Some(r) = msg.strip_prefix("(to ") {
        let Some((target, tail)) = r.split_once(") ") else {
            return false;
        };
        categorize(
            ev,
            &["authentication", "session"],
            &["start"],
            "su",
            Some("success"),
        );
        push_user(ev, tail.split(' ').next().unwrap_or(""));
        ev.push("user.effective.name", target);
        return true;
    } else {
        return pam(msg, ev);
    };
    let (target, by) = rest
        .split_once(" by ")
        .or_else(|| rest.split_once(") "))
        .unwrap_or((rest, ""));
    categorize(
        ev,
        &["authentication"],
        &["start"],
        "su",
        Some(if ok { "success" } else { "failure" }),
    );
    push_user(ev, by.split(' ').next().unwrap_or(""));
    ev.push("user.effective.name", target);
    true
}

/// `name=apache, UID=48, GID=48, home=/usr/share/httpd, shell=/sbin/nologin`
fn kv_list(s: &str) -> impl Iterator<Item = (&str, &str)> {
    s.split(", ").filter_map(|p| p.trim().split_once('='))
}

fn useradd(msg: &str, ev: &mut Event) -> bool {
    let Some(rest) = msg.strip_prefix("new user: ") else {
        return pam(msg, ev);
    };
    categorize(
        ev,
        &["iam"],
        &["user", "creation"],
        "useradd",
        Some("success"),
    );
    for (k, v) in kv_list(rest) {
        match k {
            "name" => ev.push(ecs::USER_NAME, v),
            "UID" => ev.push(ecs::USER_ID, v),
            "GID" => ev.push("group.id", v),
            "home" => ev.push("system.auth.useradd.home", v),
            "shell" => ev.push("system.auth.useradd.shell", v),
            _ => {}
        }
    }
    true
}

fn groupadd(msg: &str, ev: &mut Event) -> bool {
    let Some(rest) = msg
        .strip_prefix("new group: ")
        .or_else(|| msg.strip_prefix("group added to /etc/group: "))
    else {
        return false;
    };
    categorize(
        ev,
        &["iam"],
        &["group", "creation"],
        "groupadd",
        Some("success"),
    );
    for (k, v) in kv_list(rest) {
        match k {
            "name" => ev.push("group.name", v),
            "GID" => ev.push("group.id", v),
            _ => {}
        }
    }
    true
}

fn quoted(s: &str) -> Option<&str> {
    let s = s.split_once('\'')?.1;
    Some(s.split_once('\'')?.0)
}

/// userdel/groupdel/usermod/passwd messages.
fn account_change(app: &str, msg: &str, ev: &mut Event) -> bool {
    if let Some(r) = msg.strip_prefix("delete user ") {
        categorize(
            ev,
            &["iam"],
            &["user", "deletion"],
            "userdel",
            Some("success"),
        );
        push_user(ev, quoted(r).unwrap_or(r));
        return true;
    }
    if let Some(r) = msg.strip_prefix("group '") {
        if r.ends_with("removed") || r.contains("' removed") {
            categorize(
                ev,
                &["iam"],
                &["group", "deletion"],
                "groupdel",
                Some("success"),
            );
            ev.push("group.name", r.split('\'').next().unwrap_or(""));
            return true;
        }
    }
    if let Some(r) = msg.strip_prefix("add '") {
        // usermod: `add 'alice' to group 'sudo'`
        let mut q = r.split('\'');
        let user = q.next().unwrap_or("");
        let group = q.nth(1).unwrap_or("");
        categorize(
            ev,
            &["iam"],
            &["group", "change"],
            "group-member-added",
            Some("success"),
        );
        push_user(ev, user);
        ev.push("group.name", group);
        return true;
    }
    if app == "passwd" {
        return pam(msg, ev);
    }
    false
}

/// PAM module messages any program logs: `pam_unix(sshd:auth):
/// authentication failure; … rhost=1.2.3.4  user=root`, `pam_unix(su:session):
/// session opened for user root by vagrant(uid=1000)`, `pam_unix(passwd:chauthtok):
/// password changed for alice`.
fn pam(msg: &str, ev: &mut Event) -> bool {
    let Some(rest) = msg.strip_prefix("pam_unix(") else {
        return false;
    };
    let Some((svc, body)) = rest.split_once("): ") else {
        return false;
    };
    let service = svc.split(':').next().unwrap_or(svc);
    if let Some(kv) = body.strip_prefix("authentication failure; ") {
        categorize(
            ev,
            &["authentication"],
            &["start"],
            "authentication_failure",
            Some("failure"),
        );
        let mut user = None;
        for (k, v) in kv.split_whitespace().filter_map(|p| p.split_once('=')) {
            match k {
                "rhost" if !v.is_empty() => push_source(ev, v),
                "user" => user = Some(v),
                "ruser" if !v.is_empty() => ev.push("system.auth.pam.ruser", v),
                "tty" => ev.push("system.auth.pam.tty", v),
                _ => {}
            }
        }
        if let Some(u) = user {
            push_user(ev, u);
        }
        ev.push("system.auth.pam.service", service);
        return true;
    }
    for (prefix, ty) in [
        ("session opened for user ", "start"),
        ("session closed for user ", "end"),
    ] {
        if let Some(r) = body.strip_prefix(prefix) {
            let user = r.split([' ', '(']).next().unwrap_or("");
            let action = if ty == "start" {
                "session_opened"
            } else {
                "session_closed"
            };
            categorize(ev, &["session"], &[ty], action, None);
            push_user(ev, user);
            if let Some(by) = r.split_once(" by ").map(|(_, b)| b) {
                let by = by.split('(').next().unwrap_or("");
                if !by.is_empty() {
                    ev.push("system.auth.pam.by", by);
                }
            }
            ev.push("system.auth.pam.service", service);
            return true;
        }
    }
    if let Some(r) = body.strip_prefix("password changed for ") {
        categorize(
            ev,
            &["iam"],
            &["user", "change"],
            "password_changed",
            Some("success"),
        );
        push_user(ev, r.trim());
        ev.push("system.auth.pam.service", service);
        return true;
    }
    false
}

//! The Windows layout from evtx-style and flat Windows JSON.

use taishi_event::{DecodeContext, Decoder, Format, Value, VecSink};
use taishi_format_json::{parse_json_documents, windows_event, JsonDecoder};

fn decode(data: &[u8]) -> VecSink {
    let ctx = DecodeContext::new("test", Format::Json);
    let mut sink = VecSink::default();
    JsonDecoder::new().decode(data, &ctx, &mut sink);
    sink
}

#[test]
fn sysmon_jsonl_maps_to_windows_layout() {
    let Some(data) = taishi_testdata::read("host-logs/windows-evtx/sysmon.jsonl") else {
        return;
    };
    let sink = decode(&data);
    assert!(sink.rejects.is_empty(), "{:?}", sink.rejects.first());
    assert_eq!(sink.events.len(), 358);
    let e = &sink.events[0];
    let names: Vec<&str> = e.fields().map(|(k, _)| k).take(15).collect();
    assert_eq!(
        names,
        [
            "EventID",
            "Channel",
            "Computer",
            "Provider_Name",
            "Provider_Guid",
            "EventRecordID",
            "Level",
            "Version",
            "Task",
            "Opcode",
            "Keywords",
            "ProcessID",
            "ThreadID",
            "SecurityUserID",
            "TimeCreated"
        ]
    );
    assert_eq!(e.get("EventID"), Some(&Value::Int(1)));
    assert_eq!(
        e.get_str("Channel"),
        Some("Microsoft-Windows-Sysmon/Operational")
    );
    assert_eq!(e.get_str("Provider_Name"), Some("Microsoft-Windows-Sysmon"));
    assert_eq!(e.get_str("SecurityUserID"), Some("S-1-5-18"));
    assert_eq!(e.get("ProcessID"), Some(&Value::Int(2284)));
    assert_eq!(e.get_str("Image"), Some("C:\\Windows\\SysWOW64\\PING.EXE"));
    assert_eq!(e.get("ProcessId"), Some(&Value::Int(9112)));
    assert_eq!(e.get_str("CommandLine"), Some("ping  -n 6 127.0.0.1 "));
    assert_eq!(
        e.timestamp.map(|t| t.to_rfc3339()),
        Some("2017-12-26T13:10:29.136879+00:00".to_string())
    );
    assert_eq!(e.get_str("event.code"), Some("1"));
    assert_eq!(e.get_str("event.module"), Some("sysmon"));
    assert_eq!(e.get_str("host.name"), Some("DESKTOP-2KGM189"));
    assert_eq!(
        e.get_str("process.executable"),
        Some("C:\\Windows\\SysWOW64\\PING.EXE")
    );
    assert_eq!(e.get_str("process.name"), Some("PING.EXE"));
    assert_eq!(e.get("process.pid"), Some(&Value::Int(9112)));
    assert_eq!(e.get_str("process.parent.name"), Some("cmd.exe"));
    assert_eq!(e.get_str("user.name"), Some("SYSTEM"));
    assert_eq!(e.get_str("user.domain"), Some("NT AUTHORITY"));
    assert_eq!(
        e.get_str("process.hash.md5"),
        Some("a27a24553b2c36e139647f88df738c35")
    );

    let mut by_id = std::collections::BTreeMap::new();
    for e in &sink.events {
        *by_id
            .entry(e.get("EventID").and_then(Value::as_i64).unwrap())
            .or_insert(0) += 1;
    }
    assert_eq!(
        by_id.into_iter().collect::<Vec<_>>(),
        [
            (1, 227),
            (3, 2),
            (10, 60),
            (11, 34),
            (12, 8),
            (13, 24),
            (15, 2),
            (16, 1)
        ]
    );
}

#[test]
fn security_jsonl_maps_users_and_groups() {
    let Some(data) = taishi_testdata::read("host-logs/windows-evtx/new-user-security.jsonl") else {
        return;
    };
    let sink = decode(&data);
    assert!(sink.rejects.is_empty());
    assert_eq!(sink.events.len(), 4);
    let created = sink
        .events
        .iter()
        .find(|e| e.get("EventID") == Some(&Value::Int(4720)))
        .unwrap();
    assert_eq!(created.get_str("SamAccountName"), Some("IEUser"));
    assert_eq!(created.get_str("user.target.name"), Some("IEUser"));
    assert_eq!(created.get_str("user.name"), Some("WIN-QALA5Q3KJ43$"));
    assert_eq!(created.get_str("event.module"), Some("security"));
    assert_eq!(created.get_str("SecurityUserID"), None);

    let Some(data) = taishi_testdata::read("host-logs/windows-evtx/Security_short_selected.jsonl")
    else {
        return;
    };
    let sink = decode(&data);
    assert!(sink.rejects.is_empty());
    assert_eq!(sink.events.len(), 7);
}

#[test]
fn userdata_leaves_and_system_name_clashes() {
    let doc = br##"{"Event": {"System": {"Provider": {"#attributes": {"Name": "Microsoft-Windows-Eventlog"}},
      "EventID": {"#attributes": {"Qualifiers": 0}, "#text": 104}, "Channel": "System", "Computer": "pc",
      "TimeCreated": {"#attributes": {"SystemTime": "2024-01-02T03:04:05.123456Z"}}, "EventRecordID": 7},
      "UserData": {"LogFileCleared": {"#attributes": {"xmlns": "x"}, "SubjectUserName": "bob",
      "SubjectDomainName": "CORP", "Channel": "Application", "BackupPath": null}}}}"##;
    let v: serde_json::Value = serde_json::from_slice(doc).unwrap();
    let e = windows_event(&v).unwrap();
    assert_eq!(e.get("EventID"), Some(&Value::Int(104)));
    assert_eq!(e.get_str("Channel"), Some("System"));
    assert_eq!(e.get_str("UserData.Channel"), Some("Application"));
    assert_eq!(e.get_str("SubjectUserName"), Some("bob"));
    assert_eq!(e.get_str("user.name"), Some("bob"));
    assert_eq!(e.get_str("event.action"), Some("audit-log-cleared"));
}

#[test]
fn unnamed_data_becomes_data() {
    let doc = br##"{"Event": {"System": {"Provider": {"#attributes": {"Name": "Service Control Manager"}},
      "EventID": 7036, "Channel": "System", "Computer": "pc"},
      "EventData": {"Data": {"#text": ["Windows Update", "running"]}, "Binary": "AB"}}}"##;
    let v: serde_json::Value = serde_json::from_slice(doc).unwrap();
    let e = windows_event(&v).unwrap();
    assert_eq!(
        e.get("Data"),
        Some(&Value::Array(vec![
            "Windows Update".into(),
            "running".into()
        ]))
    );
    assert_eq!(e.get_str("Binary"), Some("AB"));
}

#[test]
fn flat_flavours_give_the_windows_layout() {
    let nxlog = br#"{"EventTime":"2020-09-21 08:03:13","Hostname":"WKST01.corp.local","Keywords":-9223372036854775808,"EventType":"INFO","SeverityValue":2,"Severity":"INFO","EventID":1,"SourceName":"Microsoft-Windows-Sysmon","ProviderGuid":"{5770385F-C22A-43E0-BF4C-06F5698FFBD9}","Version":5,"Task":1,"OpcodeValue":0,"RecordNumber":42,"ProcessID":3124,"ThreadID":4140,"Channel":"Microsoft-Windows-Sysmon/Operational","Domain":"NT AUTHORITY","AccountName":"SYSTEM","UserID":"S-1-5-18","AccountType":"User","Image":"C:\\Windows\\System32\\cmd.exe","CommandLine":"cmd /c whoami","ProcessId":"6012","ParentImage":"C:\\Windows\\explorer.exe","User":"CORP\\alice"}"#;
    let sink = decode(nxlog);
    assert!(sink.rejects.is_empty());
    let e = &sink.events[0];
    assert_eq!(e.get("EventID"), Some(&Value::Int(1)));
    assert_eq!(e.get_str("Computer"), Some("WKST01.corp.local"));
    assert_eq!(e.get_str("Provider_Name"), Some("Microsoft-Windows-Sysmon"));
    assert_eq!(e.get("EventRecordID"), Some(&Value::Int(42)));
    assert_eq!(e.get("ProcessID"), Some(&Value::Int(3124)));
    assert_eq!(e.get_str("SecurityUserID"), Some("S-1-5-18"));
    assert_eq!(e.get_str("CommandLine"), Some("cmd /c whoami"));
    assert_eq!(e.get("process.pid"), Some(&Value::Int(6012)));
    assert_eq!(e.get_str("user.name"), Some("alice"));
    assert!(e.timestamp.is_some());

    let wb = br#"{"@timestamp":"2023-05-01T10:00:00.000Z","message":"An account was successfully logged on.","winlog":{"event_id":"4624","channel":"Security","computer_name":"DC01","provider_name":"Microsoft-Windows-Security-Auditing","record_id":99,"process":{"pid":640,"thread":{"id":700}},"event_data":{"TargetUserName":"alice","TargetDomainName":"CORP","LogonType":"3","IpAddress":"10.1.2.3","IpPort":"50000"}},"agent":{"type":"winlogbeat"}}"#;
    let sink = decode(wb);
    let e = &sink.events[0];
    assert_eq!(e.get("EventID"), Some(&Value::Int(4624)));
    assert_eq!(e.get_str("Channel"), Some("Security"));
    assert_eq!(e.get_str("Computer"), Some("DC01"));
    assert_eq!(e.get_str("LogonType"), Some("3"));
    assert_eq!(e.get_str("source.ip"), Some("10.1.2.3"));
    assert_eq!(e.get("source.port"), Some(&Value::UInt(50000)));
    assert_eq!(e.get_str("user.name"), Some("alice"));
    assert_eq!(e.get_str("event.outcome"), Some("success"));
    assert_eq!(
        e.get_str("message"),
        Some("An account was successfully logged on.")
    );
    assert_eq!(e.get_str("agent.type"), Some("winlogbeat"));
    assert_eq!(
        e.timestamp.map(|t| t.to_rfc3339()),
        Some("2023-05-01T10:00:00+00:00".to_string())
    );
}

#[test]
fn regression_data_json_copies_decode() {
    let Some(root) = taishi_testdata::path("sigma/regression_data") else {
        return;
    };
    let mut files = Vec::new();
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "json") {
                files.push(p);
            }
        }
    }
    assert!(files.len() > 150, "{}", files.len());
    let mut events = 0;
    for f in &files {
        let data = std::fs::read(f).unwrap();
        let docs = parse_json_documents(&data).count();
        let sink = decode(&data);
        assert!(
            sink.rejects.is_empty(),
            "{}: {:?}",
            f.display(),
            sink.rejects
        );
        assert_eq!(sink.events.len(), docs, "{}", f.display());
        for e in &sink.events {
            assert!(
                e.get("EventID").and_then(Value::as_i64).is_some(),
                "{}",
                f.display()
            );
            assert!(e.get_str("Channel").is_some(), "{}", f.display());
            assert!(e.timestamp.is_some(), "{}", f.display());
        }
        events += sink.events.len();
    }
    assert!(events >= files.len());
}

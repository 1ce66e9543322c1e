//! The SigmaHQ rule corpus and its regression data.

use std::path::{Path, PathBuf};
use std::time::Instant;

use taishi_sigma::{regression, Engine, EngineOptions, RuleSet};

fn sigma_root() -> Option<PathBuf> {
    taishi_testdata::path("sigma")
}

fn rule_dirs(root: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.is_dir()
                        && p.file_name()
                            .is_some_and(|n| n.to_string_lossy().starts_with("rules"))
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn every_sigmahq_rule_loads_except_unconfigured_placeholders() {
    let Some(root) = sigma_root() else { return };
    let started = Instant::now();
    let set = RuleSet::load_paths(&rule_dirs(&root)).unwrap();
    let loaded = started.elapsed();
    for r in &set.rejected {
        eprintln!("rejected: {r}");
    }
    assert!(set.rejected.is_empty());
    assert_eq!(set.rules.len(), 3780);
    let engine = Engine::new(&set, &EngineOptions::default()).unwrap();
    eprintln!(
        "{} rules parsed in {:.2?}, compiled in {:.2?}: {} active, {} units, {} unmapped, {} not compiled",
        set.rules.len(),
        loaded,
        started.elapsed() - loaded,
        engine.active_rules(),
        engine.units(),
        engine.unmapped().len(),
        engine.errors().len()
    );
    eprint!("{}", engine.describe());
    for e in engine.errors() {
        eprintln!(
            "not compiled: {} [{}]: {}",
            e.meta.path, e.meta.title, e.reason
        );
    }
    assert!(
        engine.errors().iter().all(|e| e.placeholder),
        "only unconfigured placeholders may fail"
    );
    let with_expand = set
        .rules
        .iter()
        .filter(|r| !taishi_sigma::rule::placeholders_of(r).is_empty())
        .count();
    assert!(engine.errors().len() <= with_expand);
}

#[test]
fn regression_data_passes() {
    let Some(root) = sigma_root() else { return };
    let set = RuleSet::load_paths(&rule_dirs(&root)).unwrap();
    let engine = Engine::new(&set, &EngineOptions::default()).unwrap();
    let infos = regression::info_files(&root.join("regression_data"));
    let decode =
        |p: &Path| -> Result<Vec<taishi_event::Event>, Box<dyn std::error::Error + Send + Sync>> {
            Ok(taishi_decode::events_of(p)?)
        };
    // SigmaHQ's reading: the rule fires (at least match_count times).
    let outcomes = regression::run(
        &infos,
        &set,
        &engine,
        &decode,
        regression::CountMode::AtLeast,
    );
    let failed: Vec<_> = outcomes.iter().filter(|o| !o.passed).collect();
    for o in &failed {
        eprintln!("FAIL {}", o.reason.as_deref().unwrap_or("?"));
    }
    let notes = outcomes
        .iter()
        .filter(|o| o.passed && o.reason.is_some())
        .count();
    eprintln!(
        "{} passed, {} failed ({} via the JSON copy)",
        outcomes.len() - failed.len(),
        failed.len(),
        notes
    );
    assert_eq!(outcomes.len(), 202);
    assert!(failed.is_empty());

    // Exact counts: six info files say `match_count: 1` where several events
    // of the file match the rule (checked by hand: e.g. three registry
    // writes under ZoneMap\Domains for "IE Change Domain Zone"). Those are
    // the only differences, and each is an over-count.
    let exact = regression::run(&infos, &set, &engine, &decode, regression::CountMode::Exact);
    let over: Vec<&str> = exact
        .iter()
        .filter(|o| !o.passed)
        .inspect(|o| assert!(o.matches > o.test.match_count, "{:?}", o.reason))
        .map(|o| o.test.rule_id.as_str())
        .collect();
    let mut over_sorted = over.clone();
    over_sorted.sort_unstable();
    assert_eq!(
        over_sorted,
        [
            "0b9ad457-2554-44c1-82c2-d56a99c42377",
            "45e112d0-7759-4c2a-aa36-9f8fb79d3393",
            "5bac7a56-da88-4c27-922e-c81e113b20cb",
            "7124aebe-4cd7-4ccb-8df0-6d6b93c96795",
            "8fbf3271-1ef6-4e94-8210-03c2317947f6",
            "c7dcacd0-cc59-4004-b0a4-1d6cdebe6f3e",
        ]
    );
}

/// The literal prefilter never loses a match: every sample event of the
/// regression data and the host logs, through every rule, with and without
/// it.
#[test]
fn prefilter_loses_no_match() {
    let Some(root) = sigma_root() else { return };
    let set = RuleSet::load_paths(&rule_dirs(&root)).unwrap();
    let engine = Engine::new(&set, &EngineOptions::default()).unwrap();
    let mut files: Vec<PathBuf> = walk_evtx(&root.join("regression_data"));
    if let Some(h) = taishi_testdata::path("host-logs/windows-evtx") {
        files.extend(walk_evtx(&h));
    }
    let mut scratch = taishi_sigma::Scratch::new();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let (mut events, mut hits) = (0usize, 0usize);
    for f in files {
        let (sink, _) = taishi_decode::decode_path(&f, &Default::default());
        for ev in &sink.events {
            a.clear();
            b.clear();
            engine.detect(ev, &mut scratch, &mut a);
            engine.detect_unfiltered(ev, &mut scratch, &mut b);
            let ra: Vec<usize> = a.iter().map(|d| d.rule).collect();
            let rb: Vec<usize> = b.iter().map(|d| d.rule).collect();
            assert_eq!(ra, rb, "{}: {}", f.display(), ev.to_json_string());
            events += 1;
            hits += ra.len();
        }
    }
    eprintln!("{events} events, {hits} detections, identical with and without the prefilter");
    assert!(events > 500);
}

fn walk_evtx(p: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    let Ok(rd) = std::fs::read_dir(p) else {
        return v;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            v.extend(walk_evtx(&p));
        } else if p.extension().is_some_and(|x| x == "evtx") {
            v.push(p);
        }
    }
    v.sort();
    v
}

//! taishi-anomaly's detectors as a [`StreamDetector`]: every stored event
//! is mapped onto the detectors' records (`taishi_anomaly::ecs`) and run
//! through its organisation's detectors; beacon scoring runs at each tick.

use std::sync::Arc;

use taishi_alert::Alert;
use taishi_anomaly::{Engine, OrgFinding};
use taishi_event::Event;

use crate::{alerts, StreamDetector};

/// The anomaly engine plugged into a pipeline or a hunt.
#[derive(Clone)]
pub struct Anomaly(pub Arc<Engine>);

impl Anomaly {
    fn raise(found: Vec<OrgFinding>, out: &mut Vec<Alert>) {
        out.extend(found.iter().map(alerts::anomaly));
    }
}

impl StreamDetector for Anomaly {
    fn observe(&self, events: &[Event], _first_seq: u64, out: &mut Vec<Alert>) {
        let mut found = Vec::new();
        self.0.observe(events, &mut found);
        Anomaly::raise(found, out);
    }

    fn tick(&self, out: &mut Vec<Alert>) {
        let mut found = Vec::new();
        self.0.evaluate(&mut found);
        Anomaly::raise(found, out);
    }
}

//! Live updates inside one instance: services announce incident changes after commit; pages
//! subscribed through server-sent events refresh.

use tokio::sync::broadcast;

/// Something about an incident changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentChanged {
    pub incident_id: String,
}

#[derive(Clone)]
pub struct Events {
    tx: broadcast::Sender<IncidentChanged>,
}

impl Events {
    pub fn new() -> Self {
        // Slow listeners skip ahead (they only refresh), so a small buffer is enough.
        let (tx, _) = broadcast::channel(256);
        Events { tx }
    }

    pub fn incident_changed(&self, incident_id: &str) {
        // No listener is not an error.
        let _ = self.tx.send(IncidentChanged {
            incident_id: incident_id.to_owned(),
        });
    }

    pub fn subscribe(&self) -> broadcast::Receiver<IncidentChanged> {
        self.tx.subscribe()
    }
}

impl Default for Events {
    fn default() -> Self {
        Self::new()
    }
}

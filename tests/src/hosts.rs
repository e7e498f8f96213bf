//! Names in `/etc/hosts` for discovery tests: several lines for one name give several A
//! records through the system's resolver, as a Kubernetes headless Service answers. Every line
//! a test adds carries a marker, and is taken out again when the [`Hosts`] value is dropped,
//! panics included.

use std::sync::Mutex;

const FILE: &str = "/etc/hosts";

/// One test's lines; edits of the file are serialised across the tests of a process.
pub struct Hosts {
    marker: String,
}

static EDITS: Mutex<()> = Mutex::new(());

impl Hosts {
    /// A set of lines marked with `tag` (unique per test: the process id is added).
    pub fn new(tag: &str) -> Self {
        let hosts = Self {
            marker: format!("# cachering-test {tag} {}", std::process::id()),
        };
        // Left over from a run that was killed: gone.
        hosts.edit(|_| {});
        hosts
    }

    /// Adds `ip name`.
    pub fn add(&self, ip: &str, name: &str) {
        self.edit(|lines| lines.push(format!("{ip} {name}")));
    }

    /// Removes `ip name`.
    pub fn remove(&self, ip: &str, name: &str) {
        let line = format!("{ip} {name}");
        self.edit(|lines| lines.retain(|l| *l != line));
    }

    /// Rewrites this test's lines with `change`, keeping every other line of the file.
    fn edit(&self, change: impl FnOnce(&mut Vec<String>)) {
        let _edit = EDITS.lock().unwrap_or_else(|p| p.into_inner());
        let text = std::fs::read_to_string(FILE)
            .unwrap_or_else(|e| panic!("{FILE} cannot be read ({e}): discovery tests run as root"));
        let suffix = format!(" {}", self.marker);
        let (mut ours, others): (Vec<String>, Vec<String>) = text
            .lines()
            .map(str::to_string)
            .partition(|line| line.ends_with(&suffix));
        for line in &mut ours {
            line.truncate(line.len() - suffix.len());
        }
        change(&mut ours);
        let mut out = others.join("\n");
        for line in &ours {
            out.push('\n');
            out.push_str(line);
            out.push_str(&suffix);
        }
        out.push('\n');
        // In place: the file may be a bind mount that cannot be replaced.
        std::fs::write(FILE, out).unwrap_or_else(|e| {
            panic!("{FILE} cannot be written ({e}): discovery tests run as root")
        });
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        self.edit(Vec::clear);
    }
}

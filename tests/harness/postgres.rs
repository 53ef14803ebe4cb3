//! A throwaway PostgreSQL server for the tests and the benchmark: a new cluster
//! (`initdb`) in a temporary folder, listening only on a unix socket in that folder,
//! trust authentication, stopped and deleted on drop. Debian's `postgresql` package
//! provides the binaries (`/usr/lib/postgresql/<version>/bin`; `PG_BIN` overrides).
//! PostgreSQL refuses to run as root, so as root the cluster belongs to the
//! `postgres` user the package creates and is run through `runuser`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A running throwaway cluster.
pub struct Postgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    owner: Option<&'static str>,
    pub user: String,
    pub port: u16,
}

/// The newest installed PostgreSQL's binary folder.
pub fn pg_bin() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PG_BIN") {
        return Some(PathBuf::from(p));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, b)| b)
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}

impl Postgres {
    /// A cluster for tests: `fsync` off (the tests kill workers, never the database).
    pub fn start() -> Postgres {
        Postgres::start_with(&["-c", "fsync=off", "-c", "synchronous_commit=off"])
    }

    /// A cluster with PostgreSQL's default durability (for the benchmark).
    pub fn start_durable() -> Postgres {
        Postgres::start_with(&[])
    }

    fn start_with(settings: &[&str]) -> Postgres {
        let bin = pg_bin().expect(
            "PostgreSQL is not installed: apt-get install postgresql (or set PG_BIN to its bin folder)",
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let owner = is_root().then_some("postgres");
        let user = match owner {
            Some(o) => o.to_string(),
            None => std::env::var("USER").unwrap_or_else(|_| "postgres".into()),
        };
        if let Some(o) = owner {
            let ok = Command::new("chown")
                .arg(o)
                .arg(dir.path())
                .status()
                .expect("chown");
            assert!(ok.success(), "chown {o} on the test cluster folder");
        }
        let pg = Postgres {
            dir,
            bin,
            owner,
            user,
            port: 5432,
        };
        let data = pg.data();
        pg.run(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-A",
                "trust",
                "-U",
                &pg.user,
                "--no-sync",
                "-E",
                "UTF8",
            ],
        );
        let mut opts = format!(
            "-k {} -c listen_addresses= -p {} -c max_connections=60",
            pg.dir.path().display(),
            pg.port
        );
        for s in settings {
            opts.push(' ');
            opts.push_str(s);
        }
        let log = pg.dir.path().join("postgres.log");
        pg.run(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-o",
                &opts,
                "-l",
                log.to_str().unwrap(),
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
        pg
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    // A PostgreSQL tool, run as the cluster's owner.
    fn tool(&self, tool: &str) -> Command {
        let exe = self.bin.join(tool);
        match self.owner {
            Some(o) => {
                let mut c = Command::new("runuser");
                c.args(["-u", o, "--"]).arg(&exe);
                c
            }
            None => Command::new(&exe),
        }
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let out = self
            .tool(tool)
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .unwrap_or_else(|e| panic!("{tool}: {e}"));
        assert!(
            out.status.success(),
            "{tool} failed: {}\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The socket folder.
    pub fn socket_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Connection parameters for `hotspot-central --postgres`.
    pub fn params(&self) -> String {
        format!(
            "host={} port={} user={} dbname=postgres",
            self.dir.path().display(),
            self.port,
            self.user
        )
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.data();
        let _ = self
            .tool("pg_ctl")
            .args([
                "-D",
                data.to_str().unwrap_or(""),
                "-m",
                "immediate",
                "-w",
                "stop",
            ])
            .output();
    }
}

//! The storages the storage tests run on: a [`Backend`] opens connections ([`Storage`]s) to
//! one test's studies; an [`SqlBackend`] (SQLite, PostgreSQL) also reads its tables directly.
//!
//! PostgreSQL's server comes from `NAS_TEST_POSTGRES` (e.g.
//! `postgres://nas:nas@127.0.0.1:5432/nas_test`). Without it every PostgreSQL test prints a
//! skip line and passes, unless `NAS_REQUIRE_POSTGRES=1`, which makes them fail. Tests share
//! that database and run in parallel: each works on studies of its own unique names.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use nas_store::{MemoryStorage, PostgresStorage, SqliteStorage, Storage, StudyInfo};
use tempfile::TempDir;

/// Environment variable with the test server's URL.
const URL_VAR: &str = "NAS_TEST_POSTGRES";
/// Environment variable that turns a missing server into a failure (CI).
const REQUIRE_VAR: &str = "NAS_REQUIRE_POSTGRES";

/// One test's studies on one kind of storage.
pub trait Backend: Sync {
    /// `"sqlite"`, `"postgres"` or `"memory"`: also the module its conformance tests stand in.
    fn kind(&self) -> &'static str;

    /// A new connection to the database (each thread of a test takes its own).
    fn connect(&self) -> Box<dyn Storage>;

    /// A study name of this test's own.
    fn name(&self, study: &str) -> String;

    /// Of `all` the studies a connection lists, those this test created, in their order.
    fn own_studies(&self, all: Vec<StudyInfo>) -> Vec<StudyInfo>;
}

/// A database that a test can also reach with plain SQL, and from another process.
pub trait SqlBackend: Backend {
    /// The rows of a query with one text column, run with plain SQL on the database, not
    /// through the storage; `$1`, `$2`… are `args`.
    fn raw(&self, sql: &str, args: &[i64]) -> Vec<String>;

    /// The name of every index in the database's schema.
    fn index_names(&self) -> Vec<String>;

    /// A new, empty database (no schema yet) of the same kind, gone when dropped.
    fn empty_database(&self) -> Box<dyn SqlBackend>;

    /// What a child process needs to reach this database and this test's studies: the
    /// `at` constructors take it back.
    fn locator(&self) -> String;
}

// ----------------------------------------------------------------------------- SQLite

/// An SQLite database file.
pub struct Sqlite {
    path: PathBuf,
    /// The directory that holds a file of the test's own, removed when dropped.
    _dir: Option<TempDir>,
}

impl Sqlite {
    /// A new database file of this test's own (created by the first connection), removed
    /// when dropped.
    pub fn new_file() -> Sqlite {
        let dir = TempDir::new().expect("temporary directory");
        Sqlite {
            path: dir.path().join("study.db"),
            _dir: Some(dir),
        }
    }

    /// The database file at `locator` (a path, from [`SqlBackend::locator`]); not removed.
    pub fn at(locator: &str) -> Sqlite {
        Sqlite {
            path: PathBuf::from(locator),
            _dir: None,
        }
    }

    pub fn storage(&self) -> SqliteStorage {
        SqliteStorage::open(&self.path).expect("open storage")
    }

    /// A plain connection, to look at the tables directly.
    pub fn raw_connection(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(&self.path).expect("raw open")
    }
}

impl Backend for Sqlite {
    fn kind(&self) -> &'static str {
        "sqlite"
    }

    fn connect(&self) -> Box<dyn Storage> {
        Box::new(self.storage())
    }

    /// The file is the test's own: names need no prefix.
    fn name(&self, study: &str) -> String {
        study.to_string()
    }

    /// The file is the test's own: every study in it.
    fn own_studies(&self, all: Vec<StudyInfo>) -> Vec<StudyInfo> {
        all
    }
}

impl SqlBackend for Sqlite {
    fn raw(&self, sql: &str, args: &[i64]) -> Vec<String> {
        let conn = self.raw_connection();
        let mut stmt = conn.prepare(&sql.replace('$', "?")).expect("raw prepare");
        stmt.query_map(rusqlite::params_from_iter(args), |row| row.get(0))
            .expect("raw query")
            .collect::<Result<_, _>>()
            .expect("raw rows")
    }

    fn index_names(&self) -> Vec<String> {
        self.raw("SELECT name FROM sqlite_master WHERE type = 'index'", &[])
    }

    fn empty_database(&self) -> Box<dyn SqlBackend> {
        Box::new(Sqlite::new_file())
    }

    fn locator(&self) -> String {
        self.path
            .to_str()
            .expect("a UTF-8 temporary path")
            .to_string()
    }
}

// -------------------------------------------------------------------------- PostgreSQL

/// The test server, and names unique to one test.
pub struct Postgres {
    url: String,
    tag: String,
    /// A database of the test's own: the server's URL and the database's name, dropped
    /// with it.
    own_database: Option<(String, String)>,
}

impl Postgres {
    /// The server for `test`, or `None` (after printing a skip line) if there is none.
    pub fn for_test(test: &str) -> Option<Postgres> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let url = match std::env::var(URL_VAR) {
            Ok(url) if !url.trim().is_empty() => url,
            _ if std::env::var(REQUIRE_VAR).as_deref() == Ok("1") => {
                panic!("{REQUIRE_VAR}=1 but {URL_VAR} is not set: cannot run {test}")
            }
            _ => {
                eprintln!("skipping {test}: set {URL_VAR} to a PostgreSQL URL to run it");
                return None;
            }
        };
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let tag = format!("{test}-{}-{nanos}-{n}", std::process::id());
        Some(Postgres {
            url,
            tag,
            own_database: None,
        })
    }

    /// The server and test at `locator` (from [`SqlBackend::locator`]).
    pub fn at(locator: &str) -> Postgres {
        let (tag, url) = locator.split_once(' ').expect("a tag and a URL");
        Postgres {
            url: url.to_string(),
            tag: tag.to_string(),
            own_database: None,
        }
    }

    pub fn storage(&self) -> PostgresStorage {
        PostgresStorage::connect(&self.url).expect("connect to the test server")
    }

    /// A plain client, to look at the tables directly.
    pub fn client(&self) -> postgres::Client {
        postgres::Client::connect(&self.url, postgres::NoTls).expect("raw connect")
    }
}

impl Backend for Postgres {
    fn kind(&self) -> &'static str {
        "postgres"
    }

    fn connect(&self) -> Box<dyn Storage> {
        Box::new(self.storage())
    }

    fn name(&self, study: &str) -> String {
        format!("{}/{study}", self.tag)
    }

    /// The studies named by [`Backend::name`]: other tests' studies share the database.
    fn own_studies(&self, all: Vec<StudyInfo>) -> Vec<StudyInfo> {
        let prefix = self.name("");
        all.into_iter()
            .filter(|s| s.name.starts_with(&prefix))
            .collect()
    }
}

impl SqlBackend for Postgres {
    fn raw(&self, sql: &str, args: &[i64]) -> Vec<String> {
        let params: Vec<&(dyn postgres::types::ToSql + Sync)> =
            args.iter().map(|a| a as _).collect();
        self.client()
            .query(sql, &params)
            .expect("raw query")
            .iter()
            .map(|row| row.get(0))
            .collect()
    }

    fn index_names(&self) -> Vec<String> {
        self.raw(
            "SELECT CAST(indexname AS TEXT) FROM pg_indexes WHERE schemaname = current_schema()",
            &[],
        )
    }

    fn empty_database(&self) -> Box<dyn SqlBackend> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let fresh = format!("nas_fresh_{}_{n}", std::process::id());
        let mut admin = self.client();
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {fresh} WITH (FORCE)"))
            .unwrap();
        admin
            .batch_execute(&format!("CREATE DATABASE {fresh}"))
            .unwrap();
        let (base, _) = self.url.rsplit_once('/').expect("a URL with a database");
        Box::new(Postgres {
            url: format!("{base}/{fresh}"),
            tag: self.tag.clone(),
            own_database: Some((self.url.clone(), fresh)),
        })
    }

    fn locator(&self) -> String {
        format!("{} {}", self.tag, self.url)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Some((server, database)) = &self.own_database {
            let dropped = postgres::Client::connect(server, postgres::NoTls).and_then(|mut c| {
                c.batch_execute(&format!("DROP DATABASE {database} WITH (FORCE)"))
            });
            // A failing test is already unwinding: its own message says more.
            if !std::thread::panicking() {
                dropped.expect("drop the test's database");
            }
        }
    }
}

// ------------------------------------------------------------------------------ memory

/// Studies in memory: every connection is a handle on the same ones, as the threads of one
/// process share them.
#[derive(Default)]
pub struct Memory {
    storage: MemoryStorage,
}

impl Backend for Memory {
    fn kind(&self) -> &'static str {
        "memory"
    }

    fn connect(&self) -> Box<dyn Storage> {
        Box::new(self.storage.clone())
    }

    /// The studies are the test's own: names need no prefix.
    fn name(&self, study: &str) -> String {
        study.to_string()
    }

    /// The studies are the test's own: every one.
    fn own_studies(&self, all: Vec<StudyInfo>) -> Vec<StudyInfo> {
        all
    }
}

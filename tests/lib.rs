//! Tests live in the `[[test]]` targets; this is what they share.

pub mod fetch;
pub mod moto;
pub mod nginx;
pub mod object;
pub mod tls_server;

/// Which driver runs a scenario (see [`with_each_driver!`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Driver {
    /// `stowage-tokio`.
    Tokio,
    /// `stowage-uring`.
    Uring,
}

/// Runs each scenario `async fn name(driver: Driver)` once per driver, as `name::tokio` and
/// `name::uring`: both drivers are held to one list.
#[macro_export]
macro_rules! with_each_driver {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn tokio() {
                super::$name($crate::Driver::Tokio).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn uring() {
                super::$name($crate::Driver::Uring).await;
            }
        }
    )*};
}

/// A reference SDK the conformance tests run: the module it is imported as and the pip
/// requirement that installs it.
#[derive(Clone, Copy, Debug)]
pub struct Sdk {
    /// `import` name.
    pub module: &'static str,
    /// What `pip install` takes.
    pub requirement: &'static str,
}

/// The AIStore Python SDK.
pub const AISTORE: Sdk = Sdk { module: "aistore", requirement: "aistore==2.0.0" };
/// The Arvados Python SDK.
pub const ARVADOS: Sdk = Sdk { module: "arvados", requirement: "arvados-python-client==3.2.1" };
/// moto's S3 server (with boto3, which moto depends on): see [`moto::Moto`].
pub const MOTO: Sdk = Sdk { module: "moto.server", requirement: "moto[server]==5.2.5" };

/// The Python that runs a conformance test: `$STOWAGE_PYTHON` if set (`.ci/run` makes a venv
/// with every SDK it could install), else `python3`, if it can import `sdk`. `None` after
/// printing how to run the test (`test` names its target).
pub fn sdk_python(sdk: Sdk, test: &str) -> Option<String> {
    python_with(sdk, &format!("-p stowage-tests --test {test}"))
}

/// [`sdk_python`] for a test that `cargo test {run}` runs.
pub fn python_with(sdk: Sdk, run: &str) -> Option<String> {
    let candidates = std::env::var("STOWAGE_PYTHON").ok().into_iter().chain(["python3".to_owned()]);
    if let Some(python) = candidates.into_iter().find(|python| imports(python, sdk.module)) {
        return Some(python);
    }
    eprintln!(
        "SKIPPED: no Python with {}. Run: python3 -m venv /tmp/sdk && /tmp/sdk/bin/pip install '{}' && \
         STOWAGE_PYTHON=/tmp/sdk/bin/python cargo test {run}",
        sdk.module, sdk.requirement
    );
    None
}

/// Whether `python` can import `module`, asked once per process and pair (an import of an SDK
/// takes a second or so).
fn imports(python: &str, module: &'static str) -> bool {
    static ASKED: std::sync::Mutex<Vec<(String, &str, bool)>> = std::sync::Mutex::new(Vec::new());
    let mut asked = ASKED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(&(_, _, can)) = asked.iter().find(|(p, m, _)| p == python && *m == module) {
        return can;
    }
    let import = std::process::Command::new(python).args(["-c", &format!("import {module}")]).output();
    let can = import.is_ok_and(|o| o.status.success());
    asked.push((python.to_owned(), module, can));
    can
}

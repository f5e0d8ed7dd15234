//! `getHostByName`: one address of a host name, looked up with the
//! system's resolver, bounded in time and in lookups at once.
//!
//! Sprig panics when the name does not resolve (`invalid argument to
//! Intn`); here the call fails with the resolver's reason.

use std::net::ToSocketAddrs;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use gotemplate::{FuncError, Value};

use super::conv::arg_str;
use super::Reg;

/// How long `getHostByName` waits for an answer.
pub const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);
/// How many lookups may run at once (a timed-out lookup still counts until
/// the resolver gives up).
pub const MAX_LOOKUPS: usize = 8;

/// Decrements the in-flight count when the lookup thread ends.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn lookup(name: &str, in_flight: &Arc<AtomicUsize>) -> Result<String, FuncError> {
    if in_flight.fetch_add(1, Ordering::SeqCst) >= MAX_LOOKUPS {
        in_flight.fetch_sub(1, Ordering::SeqCst);
        return Err(FuncError::Call(format!(
            "lookup {name}: {MAX_LOOKUPS} lookups already running"
        )));
    }
    let slot = Slot(Arc::clone(in_flight));
    let (tx, rx) = mpsc::channel();
    let host = name.to_string();
    let spawned = std::thread::Builder::new()
        .name("getHostByName".into())
        .spawn(move || {
            let _slot = slot;
            let r = (host.as_str(), 0u16)
                .to_socket_addrs()
                .map(|it| it.map(|a| a.ip().to_string()).collect::<Vec<_>>());
            let _ = tx.send(r);
        });
    if let Err(e) = spawned {
        return Err(FuncError::Call(format!("lookup {name}: {e}")));
    }
    match rx.recv_timeout(LOOKUP_TIMEOUT) {
        Ok(Ok(addrs)) if !addrs.is_empty() => {
            let mut b = [0u8; 8];
            let _ = getrandom::fill(&mut b);
            let i = (u64::from_le_bytes(b) % addrs.len() as u64) as usize;
            Ok(addrs[i].clone())
        }
        Ok(Ok(_)) => Err(FuncError::Call(format!("lookup {name}: no addresses"))),
        Ok(Err(e)) => Err(FuncError::Call(format!("lookup {name}: {e}"))),
        Err(_) => Err(FuncError::Call(format!(
            "lookup {name}: no answer within {} s",
            LOOKUP_TIMEOUT.as_secs()
        ))),
    }
}

pub(super) fn install(r: &mut Reg<'_>) {
    let in_flight = Arc::new(AtomicUsize::new(0));
    r.fixed("getHostByName", 1, move |a| {
        Ok(Value::from(lookup(arg_str(&a[0])?, &in_flight)?))
    });
}

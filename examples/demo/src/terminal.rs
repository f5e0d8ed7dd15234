//! Single keys from the terminal, without Enter.
//!
//! When stdin is a terminal, the demo turns off its line buffering and echo
//! (`ICANON`, `ECHO`; `ISIG` stays on, so Ctrl-C is still SIGINT) and reads
//! it byte by byte on a thread of its own: a blocked read never holds the
//! runtime, so the demo exits as soon as it is told to. The terminal's
//! settings come back when the [`Keys`] guard is dropped (a normal exit, an
//! error, SIGINT/SIGTERM/SIGHUP/SIGQUIT, which the demo handles as a stop)
//! and from a panic hook.
//!
//! When stdin is not a terminal (`< /dev/null`, a pipe, CI, nohup) nothing
//! reads it: there are no keys and end of input is not a reason to quit.

use std::io::{IsTerminal, Read};

use nix::sys::termios::{self, LocalFlags, SetArg, SpecialCharacterIndices, Termios};
use tokio::sync::mpsc;

/// What a key asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key {
    /// `a`: start one more worker.
    Add,
    /// `k`: SIGKILL a worker.
    Kill,
    /// `n`: SIGKILL a broker node (with `--transport nats`).
    KillNode,
    /// `r`: restart the last killed worker.
    Restart,
    /// `q`, Ctrl-C (when the terminal passes it as a byte) or Ctrl-D.
    Quit,
}

impl Key {
    /// The key a byte stands for, if any.
    pub(crate) fn from_byte(b: u8) -> Option<Key> {
        match b {
            b'a' | b'A' => Some(Key::Add),
            b'k' | b'K' => Some(Key::Kill),
            b'n' | b'N' => Some(Key::KillNode),
            b'r' | b'R' => Some(Key::Restart),
            b'q' | b'Q' | 0x03 | 0x04 => Some(Key::Quit),
            _ => None,
        }
    }
}

/// The terminal in single-key mode; its settings are restored on drop.
#[derive(Debug)]
pub struct Keys {
    saved: Termios,
}

impl Keys {
    /// When stdin is a terminal: single-key mode, and a thread sending the
    /// keys to `tx`. `None` (and nothing read) otherwise.
    pub fn start(tx: mpsc::UnboundedSender<Key>) -> Option<Keys> {
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            return None;
        }
        let saved = termios::tcgetattr(&stdin).ok()?;
        let mut keys = saved.clone();
        keys.local_flags
            .remove(LocalFlags::ICANON | LocalFlags::ECHO);
        keys.control_chars[SpecialCharacterIndices::VMIN as usize] = 1;
        keys.control_chars[SpecialCharacterIndices::VTIME as usize] = 0;
        // Termios is not Sync; the hook must be.
        let on_panic = std::sync::Mutex::new(saved.clone());
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let saved = on_panic
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let _ = termios::tcsetattr(std::io::stdin(), SetArg::TCSANOW, &saved);
            previous(info);
        }));
        termios::tcsetattr(&stdin, SetArg::TCSANOW, &keys).ok()?;
        let reader = std::thread::Builder::new()
            .name("demo-keys".into())
            .spawn(move || read_keys(&tx));
        if reader.is_err() {
            let _ = termios::tcsetattr(&stdin, SetArg::TCSANOW, &saved);
            return None;
        }
        Some(Keys { saved })
    }
}

impl Drop for Keys {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(std::io::stdin(), SetArg::TCSANOW, &self.saved);
    }
}

/// Reads stdin a byte at a time until it ends or nobody listens. The
/// thread is never joined: a read blocked at exit ends with the process.
fn read_keys(tx: &mpsc::UnboundedSender<Key>) {
    let mut stdin = std::io::stdin().lock();
    let mut buf = [0u8; 16];
    loop {
        match stdin.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                for key in buf[..n].iter().copied().filter_map(Key::from_byte) {
                    if tx.send(key).is_err() {
                        return;
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_by_byte() {
        assert_eq!(Key::from_byte(b'q'), Some(Key::Quit));
        assert_eq!(Key::from_byte(0x03), Some(Key::Quit), "Ctrl-C");
        assert_eq!(Key::from_byte(b'a'), Some(Key::Add));
        assert_eq!(Key::from_byte(b'K'), Some(Key::Kill));
        assert_eq!(Key::from_byte(b'r'), Some(Key::Restart));
        assert_eq!(Key::from_byte(b'n'), Some(Key::KillNode));
        assert_eq!(Key::from_byte(b'\n'), None);
    }
}

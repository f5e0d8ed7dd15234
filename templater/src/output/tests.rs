use super::*;

fn target(path: &Path) -> Target {
    Target {
        path: path.to_path_buf(),
        create_dirs: true,
        ..Target::default()
    }
}

fn tmp_files(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect()
}

fn mode(p: &Path) -> u32 {
    fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

#[test]
fn writes_only_changes_atomically_with_mode_and_one_backup() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/dir/out.conf");
    let t = Target {
        perms: Some(0o600),
        backup: true,
        ..target(&path)
    };
    assert_eq!(write(&t, b"one").unwrap(), Written::Changed);
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(path.parent().unwrap()), 0o755);
    assert!(!backup_path(&path).exists(), "nothing to back up at first");
    assert_eq!(
        write(&t, b"one").unwrap(),
        Written::Unchanged,
        "unchanged content is not written"
    );
    assert_eq!(write(&t, b"two").unwrap(), Written::Changed);
    assert_eq!(fs::read(&path).unwrap(), b"two");
    assert_eq!(fs::read(backup_path(&path)).unwrap(), b"one");
    assert_eq!(write(&t, b"three").unwrap(), Written::Changed);
    assert_eq!(fs::read(backup_path(&path)).unwrap(), b"two");
    let names: Vec<String> = fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "out.conf and one backup: {names:?}");
    let no_dirs = Target {
        create_dirs: false,
        ..target(&dir.path().join("missing/x"))
    };
    let e = write(&no_dirs, b"x").unwrap_err();
    assert!(e.to_string().contains("create_dest_dirs"), "{e}");
}

#[test]
fn a_staged_write_leaves_the_destination_alone_until_committed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nginx.conf");
    fs::write(&path, "old").unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
    let t = target(&path);
    let Staged::Ready(p) = stage(&t, b"new").unwrap() else {
        panic!("new content is staged")
    };
    assert_eq!(
        p.path().parent(),
        Some(dir.path()),
        "beside the destination"
    );
    assert!(p
        .path()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .starts_with(".nginx.conf."));
    assert_eq!(fs::read(p.path()).unwrap(), b"new");
    assert_eq!(mode(p.path()), 0o640, "the final mode already");
    assert_eq!(fs::read(&path).unwrap(), b"old");
    p.discard().unwrap();
    assert_eq!(fs::read(&path).unwrap(), b"old");
    assert!(tmp_files(dir.path()).is_empty());
    let Staged::Ready(p) = stage(&t, b"new").unwrap() else {
        panic!("new content is staged")
    };
    p.commit().unwrap();
    assert_eq!(fs::read(&path).unwrap(), b"new");
    assert_eq!(mode(&path), 0o640);
    assert!(tmp_files(dir.path()).is_empty());
    assert!(matches!(stage(&t, b"new").unwrap(), Staged::Unchanged));
}

#[test]
fn a_symlinked_destination_is_written_through_and_stays_a_link() {
    let dir = tempfile::tempdir().unwrap();
    let real_dir = dir.path().join("real");
    fs::create_dir(&real_dir).unwrap();
    let real = real_dir.join("haproxy.cfg");
    fs::write(&real, "old").unwrap();
    fs::set_permissions(&real, fs::Permissions::from_mode(0o604)).unwrap();
    // A relative link to a link.
    let hop = dir.path().join("hop.cfg");
    std::os::unix::fs::symlink("real/haproxy.cfg", &hop).unwrap();
    let link = dir.path().join("link.cfg");
    std::os::unix::fs::symlink(&hop, &link).unwrap();
    let t = Target {
        backup: true,
        ..target(&link)
    };
    let Staged::Ready(p) = stage(&t, b"new").unwrap() else {
        panic!("staged")
    };
    assert_eq!(p.file(), real_dir.join("haproxy.cfg"));
    assert_eq!(
        p.path().parent(),
        Some(real_dir.as_path()),
        "beside the target"
    );
    p.commit().unwrap();
    assert!(fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(fs::symlink_metadata(&hop).unwrap().file_type().is_symlink());
    assert_eq!(fs::read(&real).unwrap(), b"new");
    assert_eq!(fs::read(&link).unwrap(), b"new");
    assert_eq!(mode(&real), 0o604);
    assert_eq!(fs::read(backup_path(&link)).unwrap(), b"old");
    // A loop is an error, not a hang.
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    std::os::unix::fs::symlink(&b, &a).unwrap();
    std::os::unix::fs::symlink(&a, &b).unwrap();
    let e = write(&target(&a), b"x").unwrap_err();
    assert!(e.to_string().contains("symlinks"), "{e}");
    // A dangling link creates its target.
    let dangling = dir.path().join("dangling");
    std::os::unix::fs::symlink("real/new.cfg", &dangling).unwrap();
    write(&target(&dangling), b"x").unwrap();
    assert_eq!(fs::read(real_dir.join("new.cfg")).unwrap(), b"x");
    assert!(fs::symlink_metadata(&dangling)
        .unwrap()
        .file_type()
        .is_symlink());
}

/// The owner and group of the old file stay, and `user`/`group` set them.
/// As root every case is asserted; otherwise (no chown to another user is
/// possible) the refusal of an explicit owner is asserted instead.
#[test]
fn owner_group_and_mode_are_kept_or_set() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out");
    fs::write(&path, "old").unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
    let me = (
        nix::unistd::geteuid().as_raw(),
        nix::unistd::getegid().as_raw(),
    );
    if is_root() {
        std::os::unix::fs::chown(&path, Some(12345), Some(23456)).unwrap();
        assert_eq!(write(&target(&path), b"new").unwrap(), Written::Changed);
        let m = fs::metadata(&path).unwrap();
        assert_eq!((m.uid(), m.gid(), mode(&path)), (12345, 23456, 0o640));
        let t = Target {
            user: Some("4321".into()),
            group: Some("root".into()),
            ..target(&path)
        };
        assert_eq!(
            write(&t, b"new").unwrap(),
            Written::Changed,
            "same content, another owner: rewritten"
        );
        let m = fs::metadata(&path).unwrap();
        assert_eq!((m.uid(), m.gid(), mode(&path)), (4321, 0, 0o640));
        assert_eq!(write(&t, b"new").unwrap(), Written::Unchanged);
        let t = Target {
            user: Some("root".into()),
            ..target(&path)
        };
        write(&t, b"newer").unwrap();
        let m = fs::metadata(&path).unwrap();
        assert_eq!((m.uid(), m.gid()), (0, 0), "root by name; the group kept");
    } else {
        let t = Target {
            user: Some("0".into()),
            ..target(&path)
        };
        let e = write(&t, b"new").unwrap_err();
        assert!(
            e.to_string().contains("cannot give the file to user 0"),
            "{e}"
        );
        assert_eq!(fs::read(&path).unwrap(), b"old", "the old file stays");
        assert_eq!(write(&target(&path), b"new").unwrap(), Written::Changed);
        let m = fs::metadata(&path).unwrap();
        assert_eq!((m.uid(), m.gid(), mode(&path)), (me.0, me.1, 0o640));
    }
    for (user, group, what) in [
        (
            Some("no-such-user-tsafe"),
            None,
            "user \"no-such-user-tsafe\" does not exist",
        ),
        (
            None,
            Some("no-such-group-tsafe"),
            "group \"no-such-group-tsafe\" does not exist",
        ),
    ] {
        let t = Target {
            user: user.map(Into::into),
            group: group.map(Into::into),
            ..target(&path)
        };
        let e = write(&t, b"other").unwrap_err();
        assert!(e.to_string().contains(what), "{e}");
    }
    assert!(tmp_files(dir.path()).is_empty());
}

#[test]
fn an_unwritable_directory_leaves_the_old_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out");
    write(&target(&path), b"old").unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o500)).unwrap();
    let r = write(&target(&path), b"new");
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).unwrap();
    if is_root() {
        // Root writes anyway: the directory mode does not apply to it.
        assert_eq!(r.unwrap(), Written::Changed);
    } else {
        assert!(r.is_err());
        assert_eq!(fs::read(&path).unwrap(), b"old");
    }
}

#[test]
fn stale_temporary_files_of_dead_templaters_are_removed_not_those_of_live_ones() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let dest = d.join("app.conf");
    fs::write(&dest, "x").unwrap();
    let mut dead = std::process::Command::new("true").spawn().unwrap();
    dead.wait().unwrap();
    let dead = dead.id();
    let mut live = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    let me = std::process::id();
    let names = [
        (format!(".app.conf.{dead}.1f2e.tmp"), false),
        (format!(".app.conf.{}.abc.tmp", live.id()), true),
        (format!(".app.conf.{me}.abc.tmp"), false),
        (format!(".other.conf.{dead}.abc.tmp"), true),
        (format!(".app.conf.{dead}.xyz.tmp"), true),
        (".app.conf.tmp".to_string(), true),
        (format!("app.conf.{dead}.abc.tmp"), true),
    ];
    for (n, _) in &names {
        fs::write(d.join(n), "partial").unwrap();
    }
    let removed = clean_stale(&[dest.clone(), d.join("missing/dir/x")]);
    let _ = live.kill();
    let _ = live.wait();
    let mut want = vec![d.join(&names[0].0), d.join(&names[2].0)];
    let mut removed = removed;
    want.sort();
    removed.sort();
    assert_eq!(removed, want);
    for (n, stays) in &names {
        assert_eq!(d.join(n).exists(), *stays, "{n}");
    }
}

// gen.go evaluates `sockaddr` over fixed interfaces; ctfuncs has no `sockaddr`
// yet, so no case uses it and there is nothing to install here.
fn golden_sockaddr(_f: &mut Funcs) {}

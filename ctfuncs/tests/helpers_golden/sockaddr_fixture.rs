// The interfaces gen.go evaluates `sockaddr` over (filled in with sockaddr).
fn golden_sockaddr(_f: &mut Funcs) {}

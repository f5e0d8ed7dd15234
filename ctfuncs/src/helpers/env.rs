//! The environment and the template: `env mustEnv envOrDefault
//! executeTemplate timestamp`.

use std::sync::Arc;

use gotemplate::{FuncError, Funcs, Value};

use super::timefmt;
use crate::{args, Env};

pub(super) fn install(funcs: &mut Funcs, env: &Env) {
    let vars = Arc::clone(&env.vars);
    funcs.add_fixed("env", 1, move |a| {
        let k = args::string(&a[0])?;
        Ok(Value::from(vars.get(k).map(String::as_str).unwrap_or("")))
    });
    let vars = Arc::clone(&env.vars);
    funcs.add_fixed("mustEnv", 1, move |a| {
        let k = args::string(&a[0])?;
        match vars.get(k) {
            Some(v) if !v.is_empty() => Ok(Value::from(v.as_str())),
            _ => Err(FuncError::Call(format!(
                "required environment variable {k} is empty"
            ))),
        }
    });
    let vars = Arc::clone(&env.vars);
    funcs.add_fixed("envOrDefault", 2, move |a| {
        let k = args::string(&a[0])?;
        let def = args::string(&a[1])?;
        Ok(Value::from(vars.get(k).map(String::as_str).unwrap_or(def)))
    });
    funcs.add("executeTemplate", 1, None, |ctx, a| {
        let name = args::string(&a[0])?;
        let dot = match &a[1..] {
            [] => Value::Missing,
            [d] => d.clone(),
            more => {
                return Err(FuncError::Call(format!(
                    "executeTemplate: wrong number of arguments, expected 1 or 2, but got {}",
                    more.len() + 1
                )))
            }
        };
        ctx.execute_template(name, dot)
            .map(Value::from)
            .map_err(FuncError::Call)
    });
    let now = env.now;
    funcs.add("timestamp", 0, None, move |_, a| {
        let t = timefmt::Civil::from_system(now());
        match a {
            [] => Ok(Value::from(timefmt::format(
                &t,
                "2006-01-02T15:04:05Z07:00",
            ))),
            [layout] => {
                let layout = args::string(layout)?;
                if layout == "unix" {
                    return Ok(Value::from(t.unix.to_string()));
                }
                Ok(Value::from(timefmt::format(&t, layout)))
            }
            more => Err(FuncError::Call(format!(
                "timestamp: wrong number of arguments, expected 0 or 1, but got {}",
                more.len()
            ))),
        }
    });
}

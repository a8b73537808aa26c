//! adamconf adapter (docs/protocol.md, adamconf-adapter/2) for burn-optim's Adam
//! and AdamW on burn's NdArray backend (CPU).
//!
//!     cargo build --release            (in adapters/burn)
//!     adamconf check --impl adapters/burn/target/release/adamconf-burn --preset burn-adam
//!     adamconf check --impl adapters/burn/target/release/adamconf-burn --preset burn-adamw
//!
//! Each tensor of a case is a rank-1 `Tensor<1>` on `Device::ndarray()` with a
//! state of its own, stepped by the bare optimizer's `Optimizer::step(lr,
//! tensor, grad, state)`: the per-parameter call that `ModuleOptimizer` makes
//! for each parameter of a group (`AdamConfig::build`, `AdamWConfig::build`).
//! A tensor without a gradient this step is not stepped, so its tensor, state
//! and `time` stay as they were. The state is burn's own `AdamState` /
//! `AdamWState { momentum: AdaptiveMomentumState { time, moment_1, moment_2,
//! max_moment_2 } }`, whose fields are public: the adapter exports it after
//! each step and builds it from a request's state, so the hello says
//! `"state": true`. A tensor that has not had a step yet has no state (`None`,
//! as in burn), reported as step 0 with zero moments.
//!
//! burn's configs take beta_1, beta_2, epsilon and the weight decay as f32 and
//! the learning rate as f64 (`LearningRate`); the adapter passes adamconf's
//! doubles through `as f32`, as a user writing `.with_beta_1(0.9)` would; the
//! hello therefore states `scalars=float32` (float64 failed 12 properties by
//! up to 5e4 ulps without it: 1 - lr wd with an f32 penalty).
//! Adam's weight decay is `Some(WeightDecayConfig { penalty })` when it is not 0
//! and `None` (burn's default) when it is.
use burn::optim::decay::WeightDecayConfig;
use burn::optim::{
    AdamConfig, AdamState, AdamWConfig, AdamWState, AdaptiveMomentumState, Optimizer,
};
use burn::tensor::{DType, Device, Tensor, TensorData};
use serde_json::{json, Value};
use std::io::{BufRead, Write};

const PROTOCOL: &str = "adamconf-adapter/2";
const ADAM: &str = "burn_optim::Adam";
const ADAMW: &str = "burn_optim::AdamW";
const BURN_VERSION: &str = "0.22.1";

type Res<T> = Result<T, String>;

fn hello() -> Value {
    let entry = |name: &str, preset: &str| {
        json!({
            "name": name,
            "presets": [preset],
            "dtypes": ["float32", "float64"],
            "hyperparameters": ["lr", "beta1", "beta2", "eps", "weight_decay"],
            // beta_1, beta_2, epsilon and the decay are f32 in burn's configs:
            // in float64 they are float32 values (the convention's scalars=float32)
            // step_counter=int32: burn keeps `time` as a usize but computes beta.powi(time as i32)
            // (burn-optim 0.22.1 adam.rs:194, adamw.rs:206), so from 2^31 steps on the bias
            // correction wraps and theta is NaN: a finding (README, burn-time-as-i32); the
            // hello keeps the suite to the counts burn can take.
            "options": ["amsgrad", "scalars=float32", "step_counter=int32"],
            "state": true,
            "lr_schedule": true
        })
    };
    json!({
        "protocol": PROTOCOL,
        "name": format!("burn {BURN_VERSION} (burn-optim, ndarray backend, cpu)"),
        "optimizers": [entry(ADAM, "burn-adam"), entry(ADAMW, "burn-adamw")]
    })
}

fn num(v: &Value, what: &str) -> Res<f64> {
    match v {
        Value::Number(n) => n.as_f64().ok_or_else(|| format!("{what}: not a number")),
        Value::String(s) => match s.as_str() {
            "nan" => Ok(f64::NAN),
            "inf" => Ok(f64::INFINITY),
            "-inf" => Ok(f64::NEG_INFINITY),
            _ => Err(format!("{what}: unsupported number string {s:?}")),
        },
        _ => Err(format!("{what}: not a number")),
    }
}

fn list(v: &Value, what: &str) -> Res<Vec<f64>> {
    v.as_array()
        .ok_or_else(|| format!("{what}: not a list"))?
        .iter()
        .map(|x| num(x, what))
        .collect()
}

fn out_num(x: f64) -> Value {
    if x.is_finite() {
        json!(x)
    } else if x.is_nan() {
        json!("nan")
    } else if x > 0.0 {
        json!("inf")
    } else {
        json!("-inf")
    }
}

#[derive(Clone, Copy)]
struct Ctx<'a> {
    device: &'a Device,
    dtype: DType,
}

impl Ctx<'_> {
    fn tensor(&self, values: &[f64]) -> Tensor<1> {
        // Every value adamconf sends is a value of the dtype: `as f32` is exact.
        let data = match self.dtype {
            DType::F32 => TensorData::new(values.iter().map(|&x| x as f32).collect::<Vec<f32>>(), [values.len()]),
            _ => TensorData::new(values.to_vec(), [values.len()]),
        };
        Tensor::<1>::from_data(data, (self.device, self.dtype))
    }

    fn values(&self, t: &Tensor<1>) -> Res<Value> {
        let data = t.to_data();
        let v: Vec<f64> = match data.dtype() {
            DType::F32 => data.as_slice::<f32>().map_err(|e| format!("{e:?}"))?.iter().map(|&x| x as f64).collect(),
            DType::F64 => data.as_slice::<f64>().map_err(|e| format!("{e:?}"))?.to_vec(),
            other => return Err(format!("burn returned a {other:?} tensor")),
        };
        Ok(Value::Array(v.into_iter().map(out_num).collect()))
    }
}

/// One of burn's two optimizers with its state type, seen through the
/// AdaptiveMomentumState both share.
enum Opt {
    Adam(burn::optim::Adam),
    AdamW(burn::optim::AdamW),
}

#[derive(Clone)]
enum State {
    Adam(AdamState<1>),
    AdamW(AdamWState<1>),
}

impl State {
    fn momentum(&self) -> &AdaptiveMomentumState<1> {
        match self {
            State::Adam(s) => &s.momentum,
            State::AdamW(s) => &s.momentum,
        }
    }
}

impl Opt {
    fn build(name: &str, h: &Value, amsgrad: bool) -> Res<Opt> {
        let f = |n: &str| -> Res<f64> { num(h.get(n).ok_or_else(|| format!("group without {n}"))?, n) };
        let (beta1, beta2, eps, wd) = (f("beta1")? as f32, f("beta2")? as f32, f("eps")? as f32, f("weight_decay")?);
        match name {
            ADAM => Ok(Opt::Adam(
                AdamConfig::new()
                    .with_beta_1(beta1)
                    .with_beta_2(beta2)
                    .with_epsilon(eps)
                    .with_amsgrad(amsgrad)
                    .with_weight_decay(if wd != 0.0 { Some(WeightDecayConfig::new(wd as f32)) } else { None })
                    .build(),
            )),
            ADAMW => Ok(Opt::AdamW(
                AdamWConfig::new()
                    .with_beta_1(beta1)
                    .with_beta_2(beta2)
                    .with_epsilon(eps)
                    .with_weight_decay(wd as f32)
                    .with_amsgrad(amsgrad)
                    .build(),
            )),
            other => Err(format!("unknown optimizer {other:?}")),
        }
    }

    fn wrap(&self, m: AdaptiveMomentumState<1>) -> State {
        match self {
            Opt::Adam(_) => State::Adam(AdamState::new(m)),
            Opt::AdamW(_) => State::AdamW(AdamWState::new(m)),
        }
    }

    fn step(&self, lr: f64, theta: Tensor<1>, grad: Tensor<1>, state: Option<State>) -> Res<(Tensor<1>, Option<State>)> {
        Ok(match self {
            Opt::Adam(o) => {
                let s = match state {
                    None => None,
                    Some(State::Adam(s)) => Some(s),
                    Some(_) => return Err("state of the wrong optimizer".into()),
                };
                let (t, s) = o.step(lr, theta, grad, s);
                (t, s.map(State::Adam))
            }
            Opt::AdamW(o) => {
                let s = match state {
                    None => None,
                    Some(State::AdamW(s)) => Some(s),
                    Some(_) => return Err("state of the wrong optimizer".into()),
                };
                let (t, s) = o.step(lr, theta, grad, s);
                (t, s.map(State::AdamW))
            }
        })
    }
}

fn export(ctx: Ctx, state: &Option<State>, n: usize, amsgrad: bool) -> Res<Value> {
    match state {
        None => {
            let zeros: Vec<Value> = vec![json!(0.0); n];
            Ok(json!({"step": 0, "m": zeros.clone(), "v": zeros.clone(),
                      "vmax": if amsgrad { zeros } else { vec![] }}))
        }
        Some(s) => {
            let m = s.momentum();
            let vmax = match (&m.max_moment_2, amsgrad) {
                (Some(t), true) => ctx.values(t)?,
                (None, true) => ctx.values(&m.moment_2)?,
                (_, false) => json!([]),
            };
            Ok(json!({"step": m.time, "m": ctx.values(&m.moment_1)?, "v": ctx.values(&m.moment_2)?, "vmax": vmax}))
        }
    }
}

fn import(ctx: Ctx, opt: &Opt, given: &Value, n: usize, amsgrad: bool) -> Res<Option<State>> {
    let step = given["step"].as_u64().ok_or("state without an integer step")?;
    let m = list(&given["m"], "state m")?;
    let v = list(&given["v"], "state v")?;
    let vmax = list(given.get("vmax").unwrap_or(&json!([])), "state vmax")?;
    if m.len() != n || v.len() != n || (amsgrad && vmax.len() != n) {
        return Err("state of the wrong length".into());
    }
    if step == 0 {
        // burn keeps no state before the first step; a step-0 state is that.
        if m.iter().chain(v.iter()).chain(vmax.iter()).any(|&x| x != 0.0) {
            return Err("a step-0 state with nonzero moments cannot be given to burn".into());
        }
        return Ok(None);
    }
    let mut momentum = AdaptiveMomentumState::new(step as usize, ctx.tensor(&m), ctx.tensor(&v));
    if amsgrad {
        momentum.max_moment_2 = Some(ctx.tensor(&vmax));
    }
    Ok(Some(opt.wrap(momentum)))
}

fn run_case(request: &Value, ctx: Ctx, name: &str, case: &Value) -> Res<Value> {
    let options = &request["options"];
    let amsgrad = options.get("amsgrad").and_then(Value::as_bool).unwrap_or(false);
    for (flag, default) in [("maximize", false), ("bias_correction", true)] {
        if let Some(b) = options.get(flag).and_then(Value::as_bool) {
            if b != default {
                return Err(format!("burn's {name} has no {flag}={b}"));
            }
        }
    }
    let tensors = case["tensors"].as_array().ok_or("case without tensors")?;
    let groups = case["groups"].as_array().ok_or("case without groups")?;
    let lrs = match case.get("lrs") {
        Some(v) if !v.is_null() => Some(list(v, "lrs")?),
        _ => None,
    };
    let given = match case.get("state") {
        Some(v) if !v.is_null() => Some(v.as_array().ok_or("state is not a list")?),
        _ => None,
    };
    let mut opts = Vec::new();
    let mut group_lr = Vec::new();
    let mut thetas = Vec::new();
    let mut states = Vec::new();
    let mut sizes = Vec::new();
    for (k, t) in tensors.iter().enumerate() {
        let g = t["group"].as_u64().ok_or("tensor without group")? as usize;
        let h = &groups.get(g).ok_or("group out of range")?["hyperparameters"];
        let opt = Opt::build(name, h, amsgrad)?;
        group_lr.push(num(&h["lr"], "lr")?);
        let theta0 = list(&t["theta0"], "theta0")?;
        sizes.push(theta0.len());
        thetas.push(ctx.tensor(&theta0));
        states.push(match given {
            Some(g) => import(ctx, &opt, g.get(k).ok_or("state for too few tensors")?, theta0.len(), amsgrad)?,
            None => None,
        });
        opts.push(opt);
    }
    let record = case.get("record_states").and_then(Value::as_bool).unwrap_or(false);
    let grads = case["grads"].as_array().ok_or("case without grads")?;
    let mut out_theta = Vec::with_capacity(grads.len());
    let mut out_states = Vec::new();
    for (t, step) in grads.iter().enumerate() {
        let step = step.as_array().ok_or("a step's grads is not a list")?;
        if step.len() != thetas.len() {
            return Err(format!("step {t}: {} gradients for {} tensors", step.len(), thetas.len()));
        }
        for (k, g) in step.iter().enumerate() {
            if g.is_null() {
                continue; // no gradient: the tensor and its state are left alone
            }
            let grad = ctx.tensor(&list(g, "grad")?);
            let lr = lrs.as_ref().map(|l| l[t]).unwrap_or(group_lr[k]);
            let (theta, state) = opts[k].step(lr, thetas[k].clone(), grad, states[k].take())?;
            thetas[k] = theta;
            states[k] = state;
        }
        out_theta.push(Value::Array(thetas.iter().map(|x| ctx.values(x)).collect::<Res<_>>()?));
        if record {
            out_states.push(Value::Array(
                states.iter().zip(&sizes).map(|(s, &n)| export(ctx, s, n, amsgrad)).collect::<Res<_>>()?,
            ));
        }
    }
    let mut result = json!({"theta": out_theta});
    if record {
        result["states"] = Value::Array(out_states);
    }
    Ok(result)
}

fn answer(request: &Value, device: &Device) -> Res<Value> {
    match request["op"].as_str() {
        Some("hello") => Ok(hello()),
        Some("run") => {
            let name = request["optimizer"].as_str().unwrap_or("");
            if name != ADAM && name != ADAMW {
                return Err(format!("unknown optimizer {name:?}"));
            }
            let dtype = match request["dtype"].as_str() {
                Some("float32") => DType::F32,
                Some("float64") => DType::F64,
                other => return Err(format!("unsupported dtype {other:?} (burn-ndarray: float32, float64)")),
            };
            let ctx = Ctx { device, dtype };
            let cases = request["cases"].as_array().ok_or("request without cases")?;
            let results = cases.iter().map(|c| run_case(request, ctx, name, c)).collect::<Res<Vec<_>>>()?;
            Ok(json!({"id": request["id"], "results": results}))
        }
        other => Err(format!("unknown op {other:?}")),
    }
}

#[allow(deprecated)] // burn 0.22 deprecates burn-ndarray in favour of burn-flex; ndarray is what this adapter tests
fn ndarray_device() -> Device {
    Device::ndarray()
}

fn main() {
    let device = ndarray_device();
    let stdin = std::io::stdin();
    let mut out = std::io::stdout().lock();
    for line in stdin.lock().lines() {
        let line = match line {
            Ok(l) => l,
            Err(_) => break,
        };
        if line.trim().is_empty() {
            continue;
        }
        let reply = match serde_json::from_str::<Value>(&line) {
            Err(e) => json!({"id": null, "error": format!("request is not JSON: {e}")}),
            Ok(request) => {
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| answer(&request, &device)))
                    .unwrap_or_else(|p| Err(format!("panic: {}", panic_text(&p))));
                match result {
                    Ok(v) => v,
                    Err(e) => json!({"id": request.get("id").cloned().unwrap_or(Value::Null),
                                     "error": one_line(&e)}),
                }
            }
        };
        let _ = writeln!(out, "{reply}");
        let _ = out.flush();
    }
}

/// The first line of an error (candle appends a backtrace when RUST_BACKTRACE is set).
fn one_line(e: &str) -> String {
    e.lines().next().unwrap_or("").trim_end().to_string()
}

fn panic_text(p: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown".into()
    }
}

//! EM settings and report fields shared by `softclust gmm` and `softclust select`.

use crate::cli::{EmArgs, InputArgs};
use crate::error::{lib_error, CliResult};
use crate::prepare::Prepared;
use crate::report::num;
use serde_json::json;
use softclust::{CovarianceType, Criteria, GaussianMixture, GaussianMixtureModel};

/// The EM settings as a library config for `k` components of type `t`.
pub fn config(em: &EmArgs, k: usize, t: CovarianceType) -> GaussianMixture {
    GaussianMixture::new(k)
        .covariance_type(t)
        .init_params(em.init)
        .n_init(em.n_init)
        .max_iter(em.max_iter)
        .tol(em.tol)
        .reg_covar(em.reg_covar)
        .auto_regularize(em.auto_regularize)
        .seed(em.seed)
}

/// Refuses `--max-iter 0`: the core allows it (initialisation only, as scikit-learn), but a
/// command-line fit with no EM step writes a model without a lower bound.
pub fn check(em: &EmArgs) -> CliResult<()> {
    if em.max_iter == 0 {
        return Err(lib_error(softclust::Error::InvalidParameter {
            name: "max_iter",
            value: "0".into(),
            expected: "an integer >= 1",
        }));
    }
    Ok(())
}

pub fn prepare(
    input: Option<&str>,
    opts: &InputArgs,
    em: &EmArgs,
    quiet: bool,
) -> CliResult<Prepared> {
    check(em)?;
    Prepared::read(input, opts, em.weights.as_deref(), em.standardize, quiet)
}

pub fn em_params(em: &EmArgs) -> serde_json::Value {
    json!({
        "init": em.init.name(),
        "n_init": em.n_init,
        "max_iter": em.max_iter,
        "tol": em.tol,
        "reg_covar": em.reg_covar,
        "auto_regularize": em.auto_regularize,
        "standardize": em.standardize.name(),
        "weights_column": em.weights,
        "seed": em.seed,
    })
}

/// The report fields of a fitted mixture on the (standardised) training data.
pub fn model_json(m: &GaussianMixtureModel, p: &Prepared) -> CliResult<serde_json::Value> {
    // Likelihood and criteria from one E-step.
    let c = m.criteria(p.z.view(), p.w()).map_err(lib_error)?;
    Ok(model_json_with(m, &c))
}

/// The report fields of a fitted mixture with its criteria on the training data.
pub fn model_json_with(m: &GaussianMixtureModel, c: &Criteria) -> serde_json::Value {
    let dg = m.diagnostics();
    json!({
        "k": m.n_components(),
        "covariance_type": m.covariance_type().name(),
        "converged": dg.converged,
        "n_iter": dg.n_iter,
        "lower_bound": num(dg.lower_bound),
        "lower_bounds": dg.lower_bounds.iter().map(|&v| num(v)).collect::<Vec<_>>(),
        "mean_log_likelihood": num(c.mean_log_likelihood),
        "bic": num(c.bic),
        "aic": num(c.aic),
        "icl": num(c.icl),
        "n_parameters": m.n_parameters(),
        "reg_covar_used": dg.reg_covar,
        "regularization_increases": dg.regularization_increases,
        "weights": m.weights().to_vec(),
    })
}

pub fn convergence_note(m: &GaussianMixtureModel, max_iter: usize) -> &'static str {
    if m.converged() {
        "converged"
    } else if max_iter > 0 {
        "NOT converged (raise --max-iter or --tol)"
    } else {
        ""
    }
}

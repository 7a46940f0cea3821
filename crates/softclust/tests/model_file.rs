//! Models as values: every model kind goes through the JSON model file and back (the format
//! the CLI and the Python package share) and scores new data exactly as before; bad files are
//! refused with a message that says what is wrong.
#![cfg(feature = "serde")]
#![allow(clippy::unwrap_used)]

mod common;

use common::blobs;
use ndarray::Array2;
use softclust::consensus::ConsensusKMeans;
use softclust::fcm::FuzzyCMeans;
use softclust::model::{Extra, ModelFile};
use softclust::soft::{Anchor, SoftKind, SoftSpec};
use softclust::{
    ClusterModel, CovarianceType, Error, GaussianMixture, KMeans, Model, Spread, Standardize,
};

fn names(d: usize) -> Vec<String> {
    (0..d).map(|j| format!("f{j}")).collect()
}

/// Writes `model` with a z-score scaler, reads it back, and checks that memberships,
/// typicality and extra columns of new raw data are identical.
fn round_trip(model: Model<f64>, x: &Array2<f64>, new: &Array2<f64>, typ: Option<Spread>) {
    let scaler = Standardize::ZScore.fit(x.view()).unwrap();
    let file = ModelFile::new(names(x.ncols()), scaler, typ, model);
    let text = file.to_json().unwrap();
    let back = ModelFile::from_json(&text, "test").unwrap();
    assert_eq!(back.model.kind(), file.model.kind());
    let (a, b) = (
        file.outputs(new.view()).unwrap(),
        back.outputs(new.view()).unwrap(),
    );
    assert_eq!(
        a.memberships.proba,
        b.memberships.proba,
        "{}",
        file.model.kind()
    );
    assert_eq!(a.memberships.label, b.memberships.label);
    assert_eq!(a.memberships.entropy, b.memberships.entropy);
    assert_eq!(
        a.typicality.map(|t| t.log_typicality),
        b.typicality.map(|t| t.log_typicality)
    );
    assert_eq!(a.extra, b.extra);
    // The same text again: writing is deterministic.
    assert_eq!(back.to_json().unwrap(), text);
}

#[test]
fn every_model_kind_round_trips_through_the_file() {
    let (x, _) = blobs(600, 3, 3, 1.5, 3);
    let (new, _) = blobs(200, 3, 3, 3.0, 4);
    let scaler = Standardize::ZScore.fit(x.view()).unwrap();
    let z = scaler.transform(x.view()).unwrap();
    for spec in [
        SoftSpec::default(),
        SoftSpec {
            per_cluster_variance: true,
            size_weights: true,
            temperature: 0.7,
            ..SoftSpec::default()
        },
        SoftSpec {
            kind: SoftKind::InversePower,
            ..SoftSpec::default()
        },
        SoftSpec {
            kind: SoftKind::MinMax,
            ..SoftSpec::default()
        },
        SoftSpec {
            kind: SoftKind::Anchored,
            half: Some(Anchor::Quantile(0.9)),
            ..SoftSpec::default()
        },
    ] {
        let km = KMeans::new(3)
            .seed(2)
            .soft(spec.method())
            .fit(z.view(), None)
            .unwrap();
        round_trip(Model::Kmeans(km), &x, &new, Some(Spread::Diagonal));
    }
    for t in CovarianceType::ALL {
        let g = GaussianMixture::new(3)
            .covariance_type(t)
            .fit(z.view(), None)
            .unwrap();
        round_trip(Model::Gmm(g), &x, &new, Some(Spread::Isotropic));
    }
    let noisy = GaussianMixture::new(3)
        .noise(0.05)
        .fit(z.view(), None)
        .unwrap();
    round_trip(Model::Gmm(noisy), &x, &new, None);
    let f = FuzzyCMeans::new(3).m(1.7).fit(z.view(), None).unwrap();
    round_trip(Model::Fcm(f), &x, &new, Some(Spread::Isotropic));
    let c = ConsensusKMeans::new(3).runs(12).fit(z.view()).unwrap();
    round_trip(Model::Consensus(c), &x, &new, None);
}

#[test]
fn the_model_file_scores_raw_data_like_the_model_scores_scaled_data() {
    let (x, _) = blobs(400, 2, 2, 1.0, 8);
    let scaler = Standardize::Robust.fit(x.view()).unwrap();
    let z = scaler.transform(x.view()).unwrap();
    let km = KMeans::new(2)
        .soft(
            SoftSpec {
                kind: SoftKind::Anchored,
                ..SoftSpec::default()
            }
            .method(),
        )
        .fit(z.view(), None)
        .unwrap();
    let direct = km.memberships(z.view()).unwrap();
    let scores = km.anchored_scores(z.view()).unwrap().unwrap();
    let file = ModelFile::new(names(2), scaler, None, Model::Kmeans(km));
    let out = file.outputs(x.view()).unwrap();
    assert_eq!(out.memberships.proba, direct.proba);
    assert_eq!(out.extra, vec![Extra::Matrix("s", scores)]);
    assert_eq!(ClusterModel::<f64>::n_clusters(&file.model), 2);
}

#[test]
fn a_float32_model_survives_the_float64_file() {
    let (x, _) = blobs(500, 4, 3, 1.0, 9);
    let x32 = x.mapv(|v| v as f32);
    let km = KMeans::<f32>::new(3).seed(1).fit(x32.view(), None).unwrap();
    let before = km.memberships(x32.view()).unwrap();
    let file = ModelFile::new(
        names(4),
        softclust::Scaler::identity(4),
        None,
        Model::Kmeans(km).cast::<f64>(),
    );
    let back = ModelFile::from_json(&file.to_json().unwrap(), "f32").unwrap();
    let again = back.model.cast::<f32>().memberships(x32.view()).unwrap();
    assert_eq!(before.proba, again.proba);
}

#[test]
fn bad_model_files_are_refused_with_the_reason() {
    let (x, _) = blobs(100, 2, 2, 1.0, 1);
    let km = KMeans::new(2).fit(x.view(), None).unwrap();
    let file = ModelFile::new(
        names(2),
        softclust::Scaler::identity(2),
        None,
        Model::Kmeans(km),
    );
    let text = file.to_json().unwrap();
    let msg = |t: &str| match ModelFile::from_json(t, "m.json") {
        Err(Error::InvalidModel { reason }) => reason,
        other => panic!("expected InvalidModel, got {other:?}"),
    };
    assert!(msg(&text[..text.len() / 2]).contains("truncated"));
    assert!(msg("{\"a\": 1}").contains("not a softclust model file"));
    assert!(msg(&text.replace("\"schema_version\":2", "\"schema_version\":7")).contains("newer"));
    assert!(
        msg(&text.replace("\"schema_version\":2", "\"schema_version\":1"))
            .contains("no longer reads")
    );
    assert!(msg(&text.replace("\"kind\":\"kmeans\"", "\"kind\":\"tree\"")).contains("malformed"));
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["feature_names"] = serde_json::json!(["only one"]);
    assert!(msg(&v.to_string()).contains("inconsistent"));
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["model"]["centering"]["data"] = serde_json::json!([0.0]);
    v["model"]["centering"]["dim"] = serde_json::json!([1]);
    assert!(msg(&v.to_string()).contains("centring vector"));
}

//! Property tests: the membership contract holds for every method on arbitrary distances;
//! relabelling clusters permutes columns; translating the data changes nothing.
#![allow(clippy::unwrap_used)]

use ndarray::{Array2, Axis};
use proptest::prelude::*;
use softclust::{soft_assign, DistanceKind, Init, InversePower, KMeans, SoftMethod, Softmax};

fn methods() -> Vec<SoftMethod> {
    vec![
        SoftMethod::default(),
        SoftMethod::Softmax(Softmax::new().per_cluster_variance(true).size_weights(true)),
        SoftMethod::Softmax(Softmax::new().temperature(0.3)),
        SoftMethod::InversePower(InversePower::new()),
        SoftMethod::InversePower(InversePower::new().power(7.5)),
        SoftMethod::MinMax,
        SoftMethod::Anchored(softclust::Anchored::new()),
    ]
}

/// Distance matrices with entries spanning many orders of magnitude, zeros and ties included.
fn distances() -> impl Strategy<Value = Array2<f64>> {
    (1usize..12, 1usize..6).prop_flat_map(|(n, k)| {
        let cell = prop_oneof![
            3 => 0.0f64..10.0,
            1 => Just(0.0),
            1 => Just(1.0),
            1 => (-300i32..300).prop_map(|e| 10f64.powi(e)),
        ];
        proptest::collection::vec(cell, n * k)
            .prop_map(move |v| Array2::from_shape_vec((n, k), v).unwrap())
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn contract_holds(d in distances(), squared in any::<bool>(), dim in 1usize..20) {
        let kind = if squared { DistanceKind::Squared } else { DistanceKind::Euclidean };
        for method in methods() {
            let m = soft_assign(d.view(), kind, &method, Some(dim)).unwrap();
            for (i, row) in m.proba.rows().into_iter().enumerate() {
                prop_assert!((row.sum() - 1.0).abs() <= 1e-12, "{:?}: row {} sums to {}", method, i, row.sum());
                prop_assert!(row.iter().all(|p| (0.0..=1.0).contains(p)));
                let mut best = 0;
                for j in 0..row.len() {
                    if row[j] > row[best] { best = j; }
                }
                prop_assert_eq!(m.label[i], best);
                prop_assert_eq!(m.max_p[i], row[best]);
                prop_assert!(m.margin[i] >= 0.0 && m.margin[i] <= m.max_p[i]);
                prop_assert!(m.entropy[i] >= 0.0 && m.entropy[i] <= (row.len() as f64).ln() + 1e-12);
            }
        }
    }

    #[test]
    fn relabelling_clusters_permutes_columns(d in distances(), seed in any::<u64>(), dim in 1usize..10) {
        let k = d.ncols();
        let mut perm: Vec<usize> = (0..k).collect();
        let mut rng = softclust::rng::Rng::new(seed);
        for i in (1..k).rev() {
            perm.swap(i, rng.below(i + 1));
        }
        let dp = d.select(Axis(1), &perm);
        for method in methods() {
            let a = soft_assign(d.view(), DistanceKind::Euclidean, &method, Some(dim)).unwrap();
            let b = soft_assign(dp.view(), DistanceKind::Euclidean, &method, Some(dim)).unwrap();
            let ap = a.proba.select(Axis(1), &perm);
            for (x, y) in ap.iter().zip(b.proba.iter()) {
                prop_assert!((x - y).abs() <= 1e-12 * x.abs().max(1e-300) + 1e-15, "{:?}: {} vs {}", method, x, y);
            }
            for i in 0..d.nrows() {
                prop_assert!((a.max_p[i] - b.max_p[i]).abs() <= 1e-12);
                prop_assert!((a.entropy[i] - b.entropy[i]).abs() <= 1e-12);
            }
        }
    }

    #[test]
    fn translating_the_data_changes_nothing(
        seed in any::<u64>(),
        shift in proptest::collection::vec(-1e3f64..1e3, 3),
    ) {
        let mut rng = softclust::rng::Rng::new(seed);
        // Three separated groups so that labels are not decided by rounding.
        let x = Array2::from_shape_fn((90, 3), |(i, j)| {
            10.0 * ((i / 30) as f64) * if j == 0 { 1.0 } else { 0.5 } + rng.uniform()
        });
        let s = ndarray::Array1::from(shift);
        let xs = &x + &s;
        let init = x.select(Axis(0), &[0, 30, 60]);
        let a = KMeans::new(3).init(Init::Centers(init.clone())).fit(x.view(), None).unwrap();
        let b = KMeans::new(3).init(Init::Centers(&init + &s)).fit(xs.view(), None).unwrap();
        prop_assert_eq!(a.labels(), b.labels());
        let da = a.transform(x.view()).unwrap();
        let db = b.transform(xs.view()).unwrap();
        let ma = soft_assign(da.view(), DistanceKind::Euclidean, &SoftMethod::default(), Some(3)).unwrap();
        let mb = soft_assign(db.view(), DistanceKind::Euclidean, &SoftMethod::default(), Some(3)).unwrap();
        for (p, q) in ma.proba.iter().zip(mb.proba.iter()) {
            prop_assert!((p - q).abs() < 1e-9);
        }
    }
}

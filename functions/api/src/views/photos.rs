//! What the photo check said of each photo of a training request (`POST /api/train`).

use serde::Serialize;
use shared::domain::photos::{self, Measurements, Thresholds};
use utoipa::ToSchema;

/// Why a photo is to be replaced.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PhotoProblem {
    /// Not an image we could decode.
    Unreadable,
    /// Its short side is under the least size (512 px by default).
    TooSmall,
    /// No face found.
    NoFace,
    /// More than one face.
    SeveralFaces,
    /// The face takes too little of the frame.
    FaceTooSmall,
    /// The face is not sharp.
    Blurred,
    /// Nearly the same as an earlier good photo of the request.
    Duplicate,
}

from_variants!(photos::Problem => PhotoProblem {
    Unreadable, TooSmall, NoFace, SeveralFaces, FaceTooSmall, Blurred, Duplicate,
});

/// One photo's verdict.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PhotoVerdict {
    /// Its place among the request's distinct photos (from 0, in the order given).
    pub index: usize,
    /// Good: it counts and is trained on.
    pub ok: bool,
    /// Why to replace it, when not `ok`.
    pub problem: Option<PhotoProblem>,
    /// The same in words.
    pub reason: Option<String>,
    /// What was measured (absent for a photo that could not be read, or a HEIC photo, which is
    /// not checked).
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// The face's sharpness (variance of the Laplacian; the least accepted is configured, 5 by
    /// default).
    pub sharpness: Option<f64>,
    pub faces: Option<u32>,
    /// The largest face's width over the photo's short side.
    pub face_share: Option<f64>,
}

impl PhotoVerdict {
    pub fn new(
        index: usize,
        measured: Option<&Measurements>,
        problem: Option<photos::Problem>,
        thresholds: &Thresholds,
    ) -> Self {
        Self {
            index,
            ok: problem.is_none(),
            problem: problem.map(PhotoProblem::from),
            reason: problem.map(|p| reason(p, thresholds)),
            width: measured.map(|m| m.width),
            height: measured.map(|m| m.height),
            sharpness: measured.map(|m| m.sharpness),
            faces: measured.map(|m| m.faces),
            face_share: measured.map(|m| m.face_share),
        }
    }
}

fn reason(problem: photos::Problem, t: &Thresholds) -> String {
    use photos::Problem as P;
    match problem {
        P::Unreadable => "the photo could not be read as an image".into(),
        P::TooSmall => format!("the photo is under {} px on its short side", t.min_side),
        P::NoFace => "no face was found".into(),
        P::SeveralFaces => "more than one face was found".into(),
        P::FaceTooSmall => format!(
            "the face is narrower than {:.0}% of the photo's short side",
            t.min_face_share * 100.0
        ),
        P::Blurred => "the face is blurred".into(),
        P::Duplicate => "nearly the same as another photo of this request".into(),
    }
}

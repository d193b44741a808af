//! Field guards: who may call what. Anonymous callers get UNAUTHENTICATED, callers
//! with the wrong role FORBIDDEN. Combine with `.or()`.

use async_graphql::{Context, Guard, Result};

use crate::auth::model::Viewer;
use crate::db::enums::Role;
use crate::error::{AppError, AppResult};

/// The signed-in caller, or UNAUTHENTICATED.
pub fn viewer(ctx: &Context<'_>) -> AppResult<Viewer> {
    ctx.data_opt::<Viewer>()
        .copied()
        .ok_or_else(|| AppError::Unauthenticated {
            message: "sign in first".to_owned(),
        })
}

pub struct SignedIn;

impl Guard for SignedIn {
    async fn check(&self, ctx: &Context<'_>) -> Result<()> {
        viewer(ctx)?;
        Ok(())
    }
}

pub struct RoleGuard(Role);

impl RoleGuard {
    pub fn new(role: Role) -> Self {
        Self(role)
    }
}

impl Guard for RoleGuard {
    async fn check(&self, ctx: &Context<'_>) -> Result<()> {
        let viewer = viewer(ctx)?;
        if viewer.role == self.0 {
            Ok(())
        } else {
            Err(AppError::Forbidden {
                message: "your role does not allow this".to_owned(),
            }
            .into())
        }
    }
}

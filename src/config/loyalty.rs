//! Loyalty tiers (`LOYALTY_TIERS`): a customer's points pick one, and its discount
//! (`loyalty` counts the points).

use rust_decimal::Decimal;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tier {
    pub name: String,
    pub min_points: i32,
    /// Percent off seat prices, e.g. `5` or `12.5`.
    pub discount_percent: Decimal,
}

/// The tiers, lowest first; the first starts at 0 points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tiers(Vec<Tier>);

pub const DEFAULT_TIERS: &str = "bronze:0:0,silver:500:5,gold:2000:10,platinum:5000:15";

impl Tiers {
    /// `name:minPoints:discountPercent,…`, e.g. the default `bronze:0:0,silver:500:5,…`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let mut tiers = Vec::new();
        for item in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let bad = || format!("expected name:points:percent, got `{item}`");
            let mut parts = item.split(':');
            let (Some(name), Some(points), Some(percent), None) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                return Err(bad());
            };
            let min_points: i32 = points.trim().parse().map_err(|_| bad())?;
            let discount_percent: Decimal = percent.trim().parse().map_err(|_| bad())?;
            if name.trim().is_empty()
                || min_points < 0
                || discount_percent < Decimal::ZERO
                || discount_percent > Decimal::ONE_HUNDRED
            {
                return Err(bad());
            }
            tiers.push(Tier {
                name: name.trim().to_owned(),
                min_points,
                discount_percent,
            });
        }
        tiers.sort_by_key(|t| t.min_points);
        if <[Tier]>::first(&tiers).map(|t| t.min_points) != Some(0) {
            return Err("the lowest tier must start at 0 points".to_owned());
        }
        if tiers.windows(2).any(|w| w[0].min_points == w[1].min_points) {
            return Err("two tiers start at the same points".to_owned());
        }
        Ok(Self(tiers))
    }

    pub fn for_points(&self, points: i32) -> &Tier {
        self.0
            .iter()
            .rev()
            .find(|t| points >= t.min_points)
            .unwrap_or(&self.0[0])
    }

    pub fn named(&self, name: &str) -> &Tier {
        self.0.iter().find(|t| t.name == name).unwrap_or(&self.0[0])
    }
}

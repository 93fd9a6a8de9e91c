//! The admins' reports (statistics, a user's card, recent models and payments, styles, admins, the
//! audit log, promo codes): each laid out once, here, with each language's [`Labels`].

use shared::repo::admins::{ActionEntry, AdminEntry};
use shared::repo::costs::{Economics, Period};
use shared::repo::events::Funnel;
use shared::repo::feedback::{LowRating, StyleRating};
use shared::repo::models::Model;
use shared::repo::payments::{Payment, Revenue};
use shared::repo::promos::PromoCode;
use shared::repo::stats::GlobalStats;
use shared::repo::styles::Style;
use shared::repo::users::User;

use super::{html, money, Lang, Texts};

/// The words of the reports in one language.
pub(super) struct Labels {
    pub statistics: &'static str,
    pub users: &'static str,
    pub today: &'static str,
    pub last_7_days: &'static str,
    pub paying: &'static str,
    pub revenue: &'static str,
    pub tokens_sold: &'static str,
    pub spent: &'static str,
    pub models: &'static str,
    pub generations_today: &'static str,
    /// Revenue against Replicate's costs, in US dollars.
    pub economics: &'static str,
    pub all_time: &'static str,
    pub cost: &'static str,
    pub margin: &'static str,
    /// After a count of Replicate jobs.
    pub jobs: &'static str,

    pub funnel: &'static str,
    pub funnel_steps: &'static str,
    pub ratings_by_style: &'static str,
    /// After a count of ratings: its plural forms ([`Lang::plural`]), like every count's word below.
    pub ratings: &'static str,
    pub no_style: &'static str,
    pub low_ratings: &'static str,

    pub language: &'static str,
    pub balance: &'static str,
    pub blocked: &'static str,
    pub yes: &'static str,
    pub no: &'static str,
    pub payments: &'static str,
    /// After a count of tokens in a list.
    pub tokens: &'static str,

    pub recent_models: &'static str,
    pub failed_models: &'static str,

    pub recent_payments: &'static str,
    pub total: &'static str,
    /// After a count of payments.
    pub payment_count: &'static str,

    pub styles: &'static str,
    pub on: &'static str,
    pub off: &'static str,
    pub add_style: &'static str,

    pub admins: &'static str,
    pub owner: &'static str,
    pub added_by: &'static str,
    pub change_admins: &'static str,

    pub audit_log: &'static str,

    pub promo_codes: &'static str,
    pub used: &'static str,
    pub until: &'static str,

    /// The chart's title and its panels' (the revenue's is followed by the currency).
    pub chart_title: &'static str,
    pub chart_new_users: &'static str,
    pub chart_generations: &'static str,
    pub chart_revenue: &'static str,
}

/// A line per item, or a dash for none.
fn lines<T>(items: &[T], line: impl FnMut(&T) -> String) -> String {
    if items.is_empty() {
        "  —".to_owned()
    } else {
        items.iter().map(line).collect::<Vec<_>>().join("\n")
    }
}

/// US dollars, to the cent (a cost under a cent shows as such rather than as nothing).
fn usd(amount: f64) -> String {
    let sign = if amount < 0.0 { "−" } else { "" };
    let amount = amount.abs();
    if amount > 0.0 && amount < 0.005 {
        format!("{sign}<$0.01")
    } else {
        format!("{sign}${amount:.2}")
    }
}

/// The items on one line, or a dash for none.
fn inline<T>(items: &[T], item: impl FnMut(&T) -> String) -> String {
    if items.is_empty() {
        "—".to_owned()
    } else {
        items.iter().map(item).collect::<Vec<_>>().join(", ")
    }
}

impl Texts {
    /// The chart's words; `currency` as the payments are in.
    pub fn chart_labels(&self, currency: &str) -> (String, [String; 3]) {
        let l = &self.reports;
        let currency = if currency == "XTR" { "Stars" } else { currency };
        (
            l.chart_title.to_owned(),
            [
                l.chart_new_users.to_owned(),
                l.chart_generations.to_owned(),
                format!("{}, {currency}", l.chart_revenue),
            ],
        )
    }

    /// Revenue, cost and margin, with the jobs counted.
    fn economics(&self, e: &Economics) -> String {
        let l = &self.reports;
        format!(
            "{} {} − {} {} = {} {} ({} {})",
            l.revenue.to_lowercase(),
            usd(e.revenue_usd),
            l.cost,
            usd(e.cost_usd),
            l.margin,
            usd(e.margin_usd()),
            e.jobs,
            Lang::plural(e.jobs, l.jobs)
        )
    }

    fn period(&self, days: Option<i32>) -> String {
        let l = &self.reports;
        match days {
            None => l.all_time.to_owned(),
            Some(1) => l.today.to_owned(),
            Some(days) => self.funnel_days(days),
        }
    }

    pub fn admin_stats(&self, s: &GlobalStats) -> String {
        let l = &self.reports;
        let economics = lines(&s.economics, |p: &Period| {
            format!(
                "  {}: {}",
                self.period(p.days),
                self.economics(&p.economics)
            )
        });
        format!(
            "📊 <b>{}</b>\n{}: {} ({} {}, {} {})\n{}: {}\n{}: {}\n{}: {}, {}: {}\n{}: {}\n{}: {}\n\n💵 <b>{}</b>\n{economics}",
            l.statistics,
            l.users,
            s.users_total,
            l.today,
            s.users_today,
            l.last_7_days,
            s.users_7_days,
            l.paying,
            s.paying_users,
            l.revenue,
            inline(&s.revenue, |r| money(r.amount, &r.currency)),
            l.tokens_sold,
            s.tokens_sold,
            l.spent,
            s.tokens_spent,
            l.models,
            inline(&s.models_by_status, |m| format!(
                "{}: {}",
                m.status, m.count
            )),
            l.generations_today,
            s.generations_today,
            l.economics,
        )
    }

    /// The funnel and the ratings, to follow [`Texts::admin_stats`].
    pub fn admin_insights(
        &self,
        funnels: &[Funnel],
        ratings: &[StyleRating],
        low: &[LowRating],
    ) -> String {
        let l = &self.reports;
        let funnel: Vec<String> = funnels
            .iter()
            .map(|f| {
                let period = self.period(Some(f.days));
                format!(
                    "  {period}: {} → {} → {} → {}",
                    f.started, f.trained, f.generated, f.paid
                )
            })
            .collect();
        let rated = lines(ratings, |r| {
            format!(
                "  • {}: {:.2} ({} {})",
                html(r.style.as_deref().unwrap_or(l.no_style)),
                r.average,
                r.ratings,
                Lang::plural(r.ratings, l.ratings)
            )
        });
        let lows = lines(low, |r| {
            format!(
                "  • #{} ⭐{} {}{}",
                r.generation_id,
                r.rating,
                html(&r.prompt.chars().take(40).collect::<String>()),
                r.comment
                    .as_deref()
                    .map(|c| format!(" — {}", self.quote(&html(c))))
                    .unwrap_or_default()
            )
        });
        format!(
            "\n\n🔻 <b>{}</b> {}\n{}\n\n⭐ <b>{}</b>\n{rated}\n\n👎 <b>{}</b>\n{lows}",
            l.funnel,
            l.funnel_steps,
            funnel.join("\n"),
            l.ratings_by_style,
            l.low_ratings,
        )
    }

    pub fn admin_user(&self, u: &User, payments: &[Payment], economics: &Economics) -> String {
        let l = &self.reports;
        let paid = lines(payments, |p| {
            format!(
                "  • {} — {} ({} {})",
                p.created_at.format("%Y-%m-%d"),
                money(p.amount, &p.currency),
                p.tokens,
                Lang::plural(p.tokens, l.tokens)
            )
        });
        format!(
            "👤 <b>{}</b> (id {})\n{}: {}\n{}\n{}: {}, {}: {}\n{}: {}\n💵 {}\n{}:\n{paid}",
            html(&u.display_name()),
            u.id,
            l.language,
            u.language_code.as_deref().unwrap_or("—"),
            self.user_joined(&u.activated_at.format("%Y-%m-%d").to_string()),
            l.balance,
            u.tokens_left,
            l.spent,
            u.tokens_spent,
            l.blocked,
            if u.is_blocked { l.yes } else { l.no },
            self.economics(economics),
            l.payments,
        )
    }

    pub fn admin_models(&self, recent: &[Model], failing: &[Model]) -> String {
        let l = &self.reports;
        let line = |m: &Model| {
            format!(
                "  • #{} {} (user {}) — {}{}",
                m.id,
                html(&m.name),
                m.user_id,
                m.status.as_str(),
                m.error
                    .as_deref()
                    .map(|e| format!(": {}", html(e)))
                    .unwrap_or_default()
            )
        };
        format!(
            "🧠 <b>{}</b>\n{}\n\n❌ <b>{}</b>\n{}",
            l.recent_models,
            lines(recent, line),
            l.failed_models,
            lines(failing, line)
        )
    }

    pub fn admin_payments(&self, recent: &[Payment], totals: &[Revenue]) -> String {
        let l = &self.reports;
        let payments = lines(recent, |p| {
            // The charge id is what /admin_refund takes; a status other than paid is shown.
            let status = if p.status == "paid" {
                String::new()
            } else {
                format!(" [{}]", p.status)
            };
            format!(
                "  • {} user {} — {} ({} {}){status} <code>{}</code>",
                p.created_at.format("%Y-%m-%d %H:%M"),
                p.user_id,
                money(p.amount, &p.currency),
                p.tokens,
                Lang::plural(p.tokens, l.tokens),
                html(&p.telegram_charge_id)
            )
        });
        let sums = inline(totals, |r| {
            format!(
                "{} ({} {})",
                money(r.amount, &r.currency),
                r.payments,
                Lang::plural(r.payments, l.payment_count)
            )
        });
        format!(
            "💳 <b>{}</b>\n{payments}\n\n{}: {sums}",
            l.recent_payments, l.total
        )
    }

    pub fn admin_styles(&self, styles: &[Style]) -> String {
        let l = &self.reports;
        let styles_list = lines(styles, |s| {
            format!(
                "  • #{} {} — {}",
                s.id,
                html(&s.name),
                if s.is_active { l.on } else { l.off }
            )
        });
        format!("🎨 <b>{}</b>\n{styles_list}\n\n{}", l.styles, l.add_style)
    }

    pub fn admin_admins(&self, owners: &[i64], admins: &[AdminEntry]) -> String {
        let l = &self.reports;
        let owners: Vec<String> = owners
            .iter()
            .map(|id| format!("  • {id} ({})", l.owner))
            .collect();
        let added = lines(admins, |a| {
            format!(
                "  • {} {} ({} {})",
                a.user_id,
                html(a.display_name.as_deref().unwrap_or("")),
                l.added_by,
                a.added_by
            )
        });
        format!(
            "👮 <b>{}</b>\n{}\n{added}\n\n{}",
            l.admins,
            owners.join("\n"),
            l.change_admins
        )
    }

    pub fn admin_log(&self, entries: &[ActionEntry]) -> String {
        let actions = lines(entries, |e| {
            format!(
                "  • {} {} → {} {}{}",
                e.created_at.format("%Y-%m-%d %H:%M"),
                e.admin_id,
                e.action.as_str(),
                e.target_user_id
                    .map(|u| format!("user {u}"))
                    .unwrap_or_default(),
                e.subject
                    .as_deref()
                    .map(|s| format!(" {}", html(s)))
                    .unwrap_or_default()
            )
        });
        format!("📜 <b>{}</b>\n{actions}", self.reports.audit_log)
    }

    pub fn admin_promos(&self, codes: &[PromoCode]) -> String {
        let l = &self.reports;
        let promos = lines(codes, |c| {
            let gives = c
                .tokens
                .map(|tokens| self.gives_tokens(tokens))
                .or(c
                    .discount_percent
                    .map(|percent| self.gives_discount(percent)))
                .unwrap_or_default();
            format!(
                "  • {} — {gives}, {} {}{}{}{}",
                c.code,
                l.used,
                c.used_count,
                c.max_uses.map(|m| format!("/{m}")).unwrap_or_default(),
                c.valid_until
                    .map(|u| format!(", {} {}", l.until, u.format("%Y-%m-%d")))
                    .unwrap_or_default(),
                if c.is_active {
                    String::new()
                } else {
                    format!(", {}", l.off)
                }
            )
        });
        format!(
            "🎟 <b>{}</b>\n{promos}\n\n{}",
            l.promo_codes, self.admin_promo_usage
        )
    }
}

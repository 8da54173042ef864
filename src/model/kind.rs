//! Every kind of finding in one table: its name (in the store, the JSON, routes and `silence
//! --kind`), its default severity, whether it is a condition or an event, and what an alert of it
//! says beyond the detector's own English: the Chinese headline and reason, and the advice in both
//! languages. `FindingKind`, `ALL`, parsing and the serde names are generated from the rows, so a
//! kind cannot be added without every column. How `check` states a kind's rule needs the rules, so
//! it sits with the detectors (`detect::rule`), in a `match` the compiler also holds to every kind.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Cause, Finding, Severity};

/// How a finding lasts, and so how it is said.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nature {
    /// It happened once (a payment, a maintenance stage): said once, never resolved.
    Event,
    /// It holds for a while and clears by itself (the balance is low, the platform is down):
    /// resolved when a poll no longer finds it, said again every `repeat_interval` until then.
    Condition,
    /// A condition said only when it starts and when it ends: it clears by itself soon, and
    /// repeating it would only add noise.
    ConditionSaidOnce,
}

/// What an alert of one kind says in a language the detectors do not write in. English needs no
/// headline or reason here: they are the finding's own `title` and `detail`.
#[derive(Clone, Copy, Debug)]
pub struct Words {
    /// The one-line summary, from the finding's facts.
    pub headline: fn(&Finding) -> String,
    /// Why it fired, in a sentence.
    pub why: fn(&Finding) -> String,
    /// The first steps to take.
    pub advice: &'static str,
}

/// Declares [`FindingKind`] and what is known of each kind from one row per kind.
macro_rules! finding_kinds {
    ($(
        $(#[doc = $doc:literal])*
        $kind:ident {
            name: $name:literal,
            severity: $severity:ident,
            nature: $nature:ident,
            advice_en: $advice_en:expr,
            zh_cn: $zh_cn:expr $(,)?
        }
    )*) => {
        /// The public, stable vocabulary of what payguard can find (DESIGN §3).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum FindingKind {
            $( $(#[doc = $doc])* #[serde(rename = $name)] $kind, )*
        }

        impl FindingKind {
            /// Every kind, in the table's order: the order `check` lists rules in and a bad
            /// `--kind` lists names in.
            pub const ALL: [FindingKind; [$($name),*].len()] = [$(FindingKind::$kind),*];

            /// The kind's name, as stored and as people type it.
            pub fn as_str(self) -> &'static str {
                match self { $(FindingKind::$kind => $name,)* }
            }

            /// How loudly it is said, unless its detector judges otherwise.
            pub fn default_severity(self) -> Severity {
                match self { $(FindingKind::$kind => Severity::$severity,)* }
            }

            /// Whether it lasts, and so whether it resolves and repeats.
            pub fn nature(self) -> Nature {
                match self { $(FindingKind::$kind => Nature::$nature,)* }
            }

            /// The first steps to take, in English.
            pub fn advice_en(self) -> &'static str {
                match self { $(FindingKind::$kind => $advice_en,)* }
            }

            /// What an alert of this kind says in Simplified Chinese.
            pub fn zh_cn(self) -> Words {
                match self { $(FindingKind::$kind => $zh_cn,)* }
            }
        }
    };
}

finding_kinds! {
    /// The balance fell too far below its recent peak.
    BalanceDrop {
        name: "balance_drop",
        severity: Critical,
        nature: Condition,
        advice_en: THEFT_EN,
        zh_cn: Words {
            headline: |f| format!("余额下降 {}", amount(f)),
            why: |f| format!("账户余额在设定的时间窗口内下降了 {}{}。", amount(f), threshold(f)),
            advice: THEFT_ZH_CN,
        },
    }
    /// The balance is below the account's floor.
    LowBalance {
        name: "low_balance",
        severity: Warning,
        nature: Condition,
        advice_en: "top up the account before payments bounce.",
        zh_cn: Words {
            headline: |f| format!("余额 {} {} 低于下限", f.balance.unwrap_or_default(), f.currency),
            why: |f| format!("账户余额低于您设定的下限{}。", threshold(f)),
            advice: "请及时充值，以免后续付款失败。",
        },
    }
    /// One payment of at least the account's limit.
    LargeDebit {
        name: "large_debit",
        severity: Warning,
        nature: Event,
        advice_en: "if you did not make this payment, call your platform's support and dispute it; change your password.",
        zh_cn: Words {
            headline: |f| format!("大额支出 {}，收款方：{}", amount(f), payee(f)),
            why: |f| format!("一笔 {} 的支出达到或超过了您设定的大额标准{}。", amount(f), threshold(f)),
            advice: "如果这笔支出不是您本人所为，请致电平台客服申请争议处理，并修改密码。",
        },
    }
    /// Money went to a payee the account never dealt with.
    NewPayee {
        name: "new_payee",
        severity: Warning,
        nature: Event,
        advice_en: THEFT_EN,
        zh_cn: Words {
            headline: |f| format!("向新收款方 {} 支付 {}", payee(f), amount(f)),
            why: |f| format!("共 {} 转给了此前从未交易过的收款方。", amount(f)),
            advice: THEFT_ZH_CN,
        },
    }
    /// Too many payments, or too much money out, in a short window.
    Velocity {
        name: "velocity",
        severity: Critical,
        nature: Event,
        advice_en: THEFT_EN,
        zh_cn: Words {
            headline: |f| format!("短时间内 {} 笔支出，共 {}", f.transaction_ids.len(), amount(f)),
            why: |f| {
                format!(
                    "短时间内出现 {} 笔支出，共 {}，超过了您设定的频率限制{}。",
                    f.transaction_ids.len(),
                    amount(f),
                    threshold(f)
                )
            },
            advice: THEFT_ZH_CN,
        },
    }
    /// The same payee took the same amount twice in a short window.
    DuplicateCharge {
        name: "duplicate_charge",
        severity: Warning,
        nature: Event,
        advice_en: "ask the merchant to refund the second charge; if they refuse, dispute it with your platform or bank.",
        zh_cn: Words {
            headline: |f| format!("疑似重复扣款：{} 两次扣除 {}", payee(f), amount(f)),
            why: |f| format!("同一收款方在短时间内两次扣除相同金额 {}。", amount(f)),
            advice: "请联系商户退还重复扣除的款项；如商户拒绝，请向平台或银行提出争议。",
        },
    }
    /// A monthly payment the account expects (a salary, the rent) did not post by its day.
    MissingPayment {
        name: "missing_payment",
        severity: Warning,
        nature: Event,
        advice_en: "check with the payer (or your bank, for a payment out) why it did not go through: a salary not paid, or a standing order that stopped, shows here first.",
        zh_cn: Words {
            headline: |f| format!("预期款项 {} 未到账", amount(f)),
            why: |f| format!("一笔每月固定的款项（{}）在 {} 前后没有入账或扣款。", amount(f), date(f.when)),
            advice: "请向付款方（或就扣款向银行）核实原因：工资未发或自动转账中止会首先在这里显示。",
        },
    }
    /// A recurring payment posted for another amount than expected (a subscription's price rise).
    AmountChanged {
        name: "amount_changed",
        severity: Info,
        nature: Event,
        advice_en: "if you did not agree to the new amount, contact the merchant or cancel the subscription.",
        zh_cn: Words {
            headline: |f| format!("固定款项金额变为 {}", amount(f)),
            why: |f| format!("一笔每月固定的款项金额变为 {}，超出了您设定的幅度{}。", amount(f), threshold(f)),
            advice: "如果您未同意新的金额，请联系商户或取消订阅。",
        },
    }
    /// The balance moved by more than the transactions that posted explain.
    UnexplainedChange {
        name: "unexplained_change",
        severity: Critical,
        nature: Event,
        advice_en: "money moved without a record: check the account's statement on the platform itself and call support if you cannot explain it; keep these records as evidence.",
        zh_cn: Words {
            headline: |f| format!("余额变动与交易记录不符，差额 {}", amount(f)),
            why: |f| {
                format!(
                    "两次查询之间的余额变动与期间入账的交易合计相差 {}{}：有资金变动没有对应的交易记录。",
                    amount(f),
                    threshold(f)
                )
            },
            advice: "有资金变动没有对应的交易记录：请在平台上核对账单，如无法解释请联系客服；保留这些记录作为证据。",
        },
    }
    /// A pending payment neither posted nor returned for too long.
    StuckPending {
        name: "stuck_pending",
        severity: Warning,
        nature: Condition,
        advice_en: "the payment may have failed with the money held: ask the merchant whether it went through, then ask the platform to release or refund it.",
        zh_cn: Words {
            headline: |f| format!("一笔 {} 的待处理支出长时间未完成，收款方：{}", amount(f), payee(f)),
            why: |f| format!("这笔支出一直处于待处理状态，既未入账也未退回{}。", threshold(f)),
            advice: "付款可能失败但资金被冻结：请向商户确认是否成功，再请平台解冻或退款。",
        },
    }
    /// The platform reports the account frozen or closed.
    AccountStatus {
        name: "account_status",
        severity: Critical,
        nature: Condition,
        advice_en: "call your platform's support to ask why; if you did not expect this, someone may have reported or taken over the account.",
        zh_cn: Words {
            headline: |f| format!("账户状态：{}", status(f)),
            why: |f| format!("平台报告该账户{}，可能无法正常收付款。", status(f)),
            advice: "请致电平台客服询问原因；如果并非您预期的操作，账户可能已被他人举报或盗用。",
        },
    }
    /// A linked card expires soon.
    CardExpiry {
        name: "card_expiry",
        severity: Info,
        nature: Condition,
        advice_en: "order the new card and update it on the platform before payments start to fail.",
        zh_cn: Words {
            headline: |f| format!("关联银行卡将于 {} 到期", date(f.when)),
            why: |f| format!("账户关联的银行卡将于 {} 到期{}。", date(f.when), threshold(f)),
            advice: "请尽快办理新卡并在平台上更新，以免付款失败。",
        },
    }
    /// The platform still answers, but the account's data stopped moving: a bank connection that
    /// silently stopped updating.
    StaleData {
        name: "stale_data",
        severity: Warning,
        nature: Condition,
        advice_en: "log in to the platform (or the service that links your bank, such as SimpleFIN Bridge) and check the bank connection; reconnect the bank if it asks. Until the data moves again, payments are not seen: check the account at your bank yourself.",
        zh_cn: Words {
            headline: |f| format!("账户数据自 {} 起没有更新", date(f.when)),
            why: |f| {
                format!(
                    "平台仍有响应，但该账户的余额日期和最新交易自 {} 起都没有变化{}：银行连接可能已停止同步，此后的交易无法发现。",
                    date(f.when),
                    threshold(f)
                )
            },
            advice: "请登录平台（或连接银行的服务，如 SimpleFIN Bridge）检查银行连接，如有提示请重新连接银行；在数据恢复更新之前，付款无法被发现，请自行在银行查看账户。",
        },
    }
    /// A source keeps failing or refused the credentials; or an account's data stays unusable.
    SourceDown {
        name: "source_down",
        severity: Warning,
        nature: Condition,
        advice_en: "payguard cannot watch this account until it answers again: check the platform's status page; if the credentials were refused and you did not change them, change your password now.",
        zh_cn: Words {
            headline: |f| match f.cause {
                Some(Cause::CredentialsRefused) => format!("{} 拒绝了 payguard 的凭证", f.account.source),
                Some(Cause::ConsentEnded) => format!("{} 的账户访问授权已结束", f.account.source),
                None => format!("无法获取 {} 的账户数据", f.account.source),
            },
            why: |f| match f.cause {
                Some(Cause::CredentialsRefused) => format!(
                    "{} 拒绝了 payguard 使用的凭证：凭证可能已被撤销或修改，如果不是您本人所为，可能是他人所为；在恢复之前，payguard 无法发现异常。",
                    f.account.source
                ),
                Some(Cause::ConsentEnded) => format!(
                    "{} 的账户访问授权已结束；在重新授权之前，payguard 无法发现异常。",
                    f.account.source
                ),
                None => format!(
                    "连续多次无法从 {} 获取数据{}；在恢复之前，payguard 无法发现异常。",
                    f.account.source,
                    threshold(f)
                ),
            },
            advice: "在恢复之前 payguard 无法监控该账户：请查看平台状态页；如果凭证被拒绝而您并未修改过，请立即修改密码。",
        },
    }
    /// A record a source reads (a statement file, a bank's notification mail) could not be read:
    /// the money it states is not watched.
    UnreadableRecord {
        name: "unreadable_record",
        severity: Warning,
        nature: Event,
        advice_en: "open the record named and check what it shows yourself: payguard could not read it, so nothing it states was judged. A new export or a fixed rule is read at the next poll.",
        zh_cn: Words {
            headline: |f| format!("{} 有一份记录无法读取", f.account.source),
            why: |f| format!("payguard 无法读取 {}，其中的交易未经检查。", f.about.as_deref().unwrap_or("该记录")),
            advice: "请打开该记录自行核对：payguard 无法读取它，其中的款项未经检查。重新导出的文件或修正后的规则会在下次轮询时读取。",
        },
    }
    /// The person's consent to read the accounts ends soon; only they can renew it, at their bank.
    ConsentExpiry {
        name: "consent_expiry",
        severity: Warning,
        nature: ConditionSaidOnce,
        advice_en: "renew the access at your bank before it ends (link the bank again); once it has ended, nothing on these accounts is watched.",
        zh_cn: Words {
            headline: |f| format!("{} 的账户访问授权将于 {} 到期", f.account.source, minute(f)),
            why: |f| format!("银行授予的账户访问授权将于 {} 到期；到期后 payguard 无法再读取这些账户。", minute(f)),
            advice: "请在到期前在银行重新授权（重新连接银行）；到期后这些账户将无法监控。",
        },
    }
    /// The platform announced maintenance, or it starts soon, started or ended.
    Maintenance {
        name: "maintenance",
        severity: Info,
        nature: Event,
        advice_en: "plan payments around the window: payments and logins may fail while it lasts.",
        zh_cn: Words {
            headline: |f| format!("平台维护：{}", about(f)),
            why: |f| {
                let when = f.when.map(|_| format!("，开始时间 {}", minute(f))).unwrap_or_default();
                format!("平台发布了维护通知{when}。维护期间付款和查询可能失败。")
            },
            advice: "请避开维护时段安排付款：维护期间付款和登录可能失败。",
        },
    }
    /// The platform reports an unresolved incident.
    Incident {
        name: "incident",
        severity: Warning,
        nature: Condition,
        advice_en: "payments may fail or arrive late until the platform resolves it; do not retry a payment twice without checking that the first did not go through.",
        zh_cn: Words {
            headline: |f| format!("平台故障：{}", about(f)),
            why: |_| "平台报告了一起尚未解决的故障，付款和到账可能受到影响。".to_owned(),
            advice: "在平台解决之前，付款可能失败或延迟到账；重复付款前请先确认第一笔没有成功。",
        },
    }
    /// The daily request budget is spent and polls are skipped.
    BudgetExhausted {
        name: "budget_exhausted",
        severity: Warning,
        nature: ConditionSaidOnce,
        advice_en: "poll less often (the schedule) or raise max_requests_per_day if the platform allows it; until the budget frees, check the account on the platform yourself.",
        zh_cn: Words {
            headline: |f| format!("{} 今日请求额度已用完，暂停查询至 {}", f.account.source, minute(f)),
            why: |f| {
                format!(
                    "过去 24 小时内对 {} 的请求已达上限{}；查询计划要求更多，因此在 {} 之前跳过查询，期间无法发现异常。",
                    f.account.source,
                    threshold(f),
                    minute(f)
                )
            },
            advice: "请降低查询频率（schedule），或在平台允许时提高 max_requests_per_day；额度恢复之前，请自行在平台上查看账户。",
        },
    }
    /// payguard cannot write its store, so nothing is watched.
    StoreFailing {
        name: "store_failing",
        severity: Critical,
        nature: Condition,
        advice_en: "free space on the disk that holds payguard's state directory (or fix the disk); until then, check your accounts on the platforms yourself.",
        zh_cn: Words {
            headline: |_| "payguard 无法写入数据库".to_owned(),
            why: |f| {
                format!(
                    "自 {} 起 payguard 无法写入数据库：{}。在恢复之前，查询结果不会保存，所有账户都无法监控；写入恢复后会自动继续。",
                    minute(f),
                    about(f)
                )
            },
            advice: "请释放 payguard 状态目录所在磁盘的空间（或修复磁盘）；在此之前，请自行在平台上查看账户。",
        },
    }
}

/// What to do about money that may have been stolen: a drop, a burst, a payment to a stranger.
const THEFT_EN: &str = "if you do not recognise these payments, call your platform's support now and ask them to freeze the account; change your password and turn on two-factor login; keep these records as evidence, and report to the police once theft is confirmed.";
const THEFT_ZH_CN: &str = "如果这些支出不是您本人所为，请立即致电平台客服冻结账户；修改密码并开启两步验证；保留这些记录作为证据，确认被盗后向警方报案。";

impl FindingKind {
    /// Conditions resolve when a poll no longer finds them; events are said once.
    pub fn is_condition(self) -> bool {
        self.nature() != Nature::Event
    }

    /// Whether a firing condition is said again every `repeat_interval`.
    pub fn repeats(self) -> bool {
        self.nature() == Nature::Condition
    }
}

impl fmt::Display for FindingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for FindingKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FindingKind::ALL.into_iter().find(|k| k.as_str() == s).ok_or_else(|| {
            let all: Vec<&str> = FindingKind::ALL.iter().map(|k| k.as_str()).collect();
            format!("unknown kind {s:?}: expected one of {}", all.join(", "))
        })
    }
}

/// The money at stake with its currency, or nothing.
fn amount(f: &Finding) -> String {
    f.amount.map(|a| format!("{a} {}", f.currency)).unwrap_or_default()
}

fn payee(f: &Finding) -> &str {
    f.payees.first().map_or("", String::as_str)
}

fn about(f: &Finding) -> &str {
    f.about.as_deref().unwrap_or_default()
}

/// The limit crossed, as a parenthesis to end a sentence with, or nothing.
fn threshold(f: &Finding) -> String {
    f.threshold.as_ref().map(|t| format!("（触发条件 {} = {}）", t.key, t.value)).unwrap_or_default()
}

/// A calendar day (a payment's due day, a card's expiry) as the rule or the card states it: not
/// an instant, so not moved to another clock.
fn date(when: Option<DateTime<Utc>>) -> String {
    when.map(|t| t.format("%Y-%m-%d").to_string()).unwrap_or_default()
}

/// The moment the finding is about, on the clock it is told on.
fn minute(f: &Finding) -> String {
    f.when.map(|t| f.zone.time_zh(t)).unwrap_or_default()
}

/// The account status the platform reported (`about`), in Chinese.
fn status(f: &Finding) -> &'static str {
    match f.about.as_deref() {
        Some("frozen") => "已冻结",
        Some("closed") => "已关闭",
        Some("active") => "正常",
        _ => "未知",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The name is one column: what serde writes and reads (the store, JSON, routes) is what
    /// `as_str` shows and `FromStr` parses.
    #[test]
    fn every_kind_has_one_name_everywhere() {
        for kind in FindingKind::ALL {
            let json = serde_json::to_string(&kind).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
            assert_eq!(serde_json::from_str::<FindingKind>(&json).ok(), Some(kind));
            assert_eq!(kind.as_str().parse::<FindingKind>(), Ok(kind));
        }
        let names: std::collections::HashSet<&str> = FindingKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(names.len(), FindingKind::ALL.len(), "two kinds share a name");
    }

    #[test]
    fn an_unknown_kind_lists_every_name() {
        let error = "bogus".parse::<FindingKind>().err().unwrap_or_default();
        assert!(error.starts_with("unknown kind \"bogus\": expected one of balance_drop, low_balance, "), "{error}");
        assert!(error.ends_with(", budget_exhausted, store_failing"), "{error}");
    }

    #[test]
    fn only_conditions_resolve_and_a_spent_budget_is_said_once() {
        use FindingKind::*;
        let conditions: Vec<FindingKind> = FindingKind::ALL.into_iter().filter(|k| k.is_condition()).collect();
        assert_eq!(
            conditions,
            [
                BalanceDrop,
                LowBalance,
                StuckPending,
                AccountStatus,
                CardExpiry,
                StaleData,
                SourceDown,
                ConsentExpiry,
                Incident,
                BudgetExhausted,
                StoreFailing
            ]
        );
        let repeating: Vec<FindingKind> = FindingKind::ALL.into_iter().filter(|k| k.repeats()).collect();
        let said_once = [ConsentExpiry, BudgetExhausted];
        assert_eq!(repeating, conditions.into_iter().filter(|k| !said_once.contains(k)).collect::<Vec<_>>());
    }
}

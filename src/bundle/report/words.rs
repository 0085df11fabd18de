//! The report's words: a catalogue per language (English and French, the working
//! languages of the International Criminal Court), and times in words. Only labels are
//! translated; the data (names, reasons, texts) is shown as it was signed.

/// A language of the report's labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// English.
    #[default]
    En,
    /// French.
    Fr,
}

impl Lang {
    /// Every language of the catalogue.
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Fr];

    /// The BCP 47 tag (`en`, `fr`).
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Fr => "fr",
        }
    }

    /// The language of a tag, if the catalogue has it.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        Lang::ALL.into_iter().find(|l| l.tag() == tag)
    }

    /// Its words.
    pub fn words(self) -> &'static Words {
        match self {
            Lang::En => &EN,
            Lang::Fr => &FR,
        }
    }
}

/// Every label of the report. `{n}`, `{seq}` and the like are filled in by [`fill`].
pub struct Words {
    pub title: &'static str,
    pub verdict_ok: &'static str,
    pub verdict_bad: &'static str,
    pub verdict_bad_where: &'static str,
    pub verdict_note: &'static str,
    pub failing_exported: &'static str,
    pub case: &'static str,
    pub ledger: &'static str,
    pub exported_by: &'static str,
    pub exported_at: &'static str,
    pub checkpoint: &'static str,
    pub checkpoint_of: &'static str,
    pub summary: &'static str,
    pub exhibit: &'static str,
    pub testimony_of: &'static str,
    pub media_file: &'static str,
    pub recorded_by: &'static str,
    pub unknown_person: &'static str,
    pub key_id: &'static str,
    pub fingerprint: &'static str,
    pub signed_at: &'static str,
    pub recorded_at: &'static str,
    pub consent: &'static str,
    pub no_consent: &'static str,
    pub consent_changed: &'static str,
    pub exported_without_consent: &'static str,
    pub attested: &'static str,
    pub not_attested: &'static str,
    pub text: &'static str,
    pub versions: &'static str,
    pub original: &'static str,
    pub correction: &'static str,
    pub reason: &'static str,
    pub new_description: &'static str,
    pub text_in_file: &'static str,
    pub text_not_in_bundle: &'static str,
    pub text_not_utf8: &'static str,
    pub erased: &'static str,
    pub name: &'static str,
    pub media_type: &'static str,
    pub size: &'static str,
    pub bytes: &'static str,
    pub sha256: &'static str,
    pub file_in_bundle: &'static str,
    pub file_not_in_bundle: &'static str,
    pub description: &'static str,
    pub custody: &'static str,
    pub holder: &'static str,
    pub from: &'static str,
    pub until: &'static str,
    pub now: &'static str,
    pub how: &'static str,
    pub first_holder: &'static str,
    pub handed_over: &'static str,
    pub countersigned: &'static str,
    pub pending: &'static str,
    pub not_held_pending: &'static str,
    pub not_held_withdrawn: &'static str,
    pub withdrawn: &'static str,
    pub timeline: &'static str,
    pub timeline_label: &'static str,
    pub witnesses: &'static str,
    pub checks: &'static str,
    pub checks_intro: &'static str,
    pub check: &'static str,
    pub rule: &'static str,
    pub result: &'static str,
    pub passed: &'static str,
    pub failed: &'static str,
    pub page: &'static str,
    pub roles: [(&'static str, &'static str); 5],
    pub months: [&'static str; 12],
    pub first_of_month: &'static str,
    pub stamped_line: &'static str,
    pub accuracy: &'static str,
    pub accuracy_short: &'static str,
    pub cosigned_line: &'static str,
    pub at: &'static str,
    pub more: &'static str,
    pub witnesses_none: &'static str,
    pub witnesses_intro: &'static str,
    pub witnesses_outro: &'static str,
    pub checkpoint_col: &'static str,
    pub cosigned_col: &'static str,
    pub stamped_col: &'static str,
    pub first_records: &'static str,
    pub key: &'static str,
    pub certificate: &'static str,
    pub none: &'static str,
}

/// `template` with each `{key}` replaced by its value (values are inserted as given: the
/// caller escapes them first).
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    // One pass over the template: a value is never read again, so a value holding
    // "{reason}" stays as it is instead of pulling another field in.
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}').and_then(|close| {
            let key = &after[..close];
            values
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| (close, *v))
        }) {
            Some((close, v)) => {
                out.push_str(v);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Days since 1970-01-01 to (year, month 1..=12, day 1..=31), proleptic Gregorian
/// (H. Hinnant's `civil_from_days`).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// A time in words, to the minute, in UTC: "30 November 2026, 08:57 UTC" ("1er décembre
/// 2026, 08:57 UTC" in French).
pub fn when(ms: u64, lang: Lang) -> String {
    format!("{}, {}", day(ms, lang), clock(ms))
}

/// The time of day alone, for the timeline's rows: "08:57 UTC".
pub fn clock(ms: u64) -> String {
    let of_day = ((ms / 1000) as i64).rem_euclid(86_400);
    format!("{:02}:{:02} UTC", of_day / 3600, of_day % 3600 / 60)
}

/// The day alone, for the timeline's groups: "30 November 2026".
pub fn day(ms: u64, lang: Lang) -> String {
    let w = lang.words();
    let (y, m, d) = civil(((ms / 1000) as i64).div_euclid(86_400));
    let day = if d == 1 && !w.first_of_month.is_empty() {
        w.first_of_month.to_owned()
    } else {
        d.to_string()
    };
    format!("{day} {} {y}", w.months[(m - 1) as usize])
}

pub static EN: Words = Words {
    title: "Evidence bundle",
    verdict_ok: "Every check passed: the exhibits, their signers and their custody.",
    verdict_bad: "{n} of {total} checks FAILED. Read them before relying on any exhibit:",
    verdict_bad_where: "{check}: {detail}",
    verdict_note: "As custody checked the bundle when it was made. A page can be forged: custody verify-bundle checks the bundle again, and this page with it.",
    failing_exported: "Exhibits that fail their own checks were exported on purpose; the reason given: {reason}",
    case: "Case",
    ledger: "Evidence ledger",
    exported_by: "Exported by",
    exported_at: "Exported",
    checkpoint: "Ledger state proven",
    checkpoint_of: "the first {n} records, signed by the ledger key {key}",
    summary: "This bundle holds {n} exhibit(s). Each is a record signed by the person who made it, proven to be part of the ledger's history as the ledger key signed it. Nothing else from the ledger is in this bundle.",
    exhibit: "Exhibit {seq}",
    testimony_of: "Testimony of {subject}",
    media_file: "Media file {name}",
    recorded_by: "Recorded by",
    unknown_person: "a key this bundle names no one for",
    key_id: "key ID",
    fingerprint: "fingerprint",
    signed_at: "Signed (the signer's clock)",
    recorded_at: "Recorded in the ledger",
    consent: "Consent",
    no_consent: "none recorded",
    consent_changed: "changed by record {seq} ({when}) to: {consent}",
    exported_without_consent: "Exported without court consent; the reason given: {reason}",
    attested: "Attested independently",
    not_attested: "no witness or time-stamping authority attests it: its time is the ledger's own",
    text: "Text",
    versions: "Every version",
    original: "Original, record {seq}",
    correction: "Correction, record {seq}, recorded {when}",
    reason: "Reason",
    new_description: "New description",
    text_in_file: "in the bundle as {file}",
    text_not_in_bundle: "The text is not in this bundle.",
    text_not_utf8: "The text is not UTF-8; see the file in the bundle.",
    erased: "Erased by record {seq} ({when}): {reason}. The record and its proof stand; the content can no longer be read by anyone.",
    name: "Name",
    media_type: "Type",
    size: "Size",
    bytes: "{n} bytes",
    sha256: "SHA-256",
    file_in_bundle: "File in the bundle",
    file_not_in_bundle: "not in this bundle (the court receives it apart; its SHA-256 identifies it)",
    description: "Description",
    custody: "Chain of custody",
    holder: "Holder",
    from: "From",
    until: "Until",
    now: "the end of this bundle's record",
    how: "How",
    first_holder: "recorded the exhibit (record {seq})",
    handed_over: "handed over by record {seq}, signed by the giver ({giver}): {reason}",
    countersigned: "countersigned by the receiver, record {seq}",
    pending: "PENDING: the receiver has not countersigned; the giver still holds it",
    not_held_pending: "OFFERED, NOT ACCEPTED (never held it):",
    not_held_withdrawn: "OFFER WITHDRAWN (never held it):",
    withdrawn: "withdrawn by record {seq} before it was accepted",
    timeline: "Timeline",
    timeline_label: "timeline of the exhibits, by the time each was recorded",
    witnesses: "Witnesses and trusted time",
    checks: "Every check",
    checks_intro: "Failing checks first. Anyone can repeat them with custody verify-bundle, or with standard tools as VERIFY.txt explains.",
    check: "Check",
    rule: "Rule",
    result: "Result",
    passed: "passed",
    failed: "FAILED",
    page: "page",
    roles: [
        ("admin", "administrator"),
        ("investigator", "investigator"),
        ("custodian", "custodian"),
        ("auditor", "auditor"),
        ("ledger", "ledger key"),
    ],
    months: [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ],
    first_of_month: "",
    stamped_line: "recorded no later than {when}, attested by {authority} (a time-stamp of the checkpoint of {n} records{accuracy}; by the certificate the bundle carries: see below)",
    accuracy: ", stamped {when} with an accuracy of {ms} ms",
    accuracy_short: "accuracy {ms} ms",
    cosigned_line: "checkpoint of {n} records cosigned by {names} (by the keys the bundle carries: see below)",
    at: "{who} at {when}",
    more: "{n} more",
    witnesses_none: "No independent witness cosigned, and no time-stamping authority stamped, a checkpoint covering these exhibits: the times shown are those of the ledger's own clock.",
    witnesses_intro: "Independent witnesses cosign a checkpoint only if it is consistent with every checkpoint of this ledger they saw before, so the ledger's owner cannot show different histories to different people. A time-stamping authority signs that a checkpoint existed at a time, so nothing it covers was written later and back-dated. Each checkpoint below is proven to be a prefix of the bundle's own. Only attestations whose checks passed are listed.",
    witnesses_outro: "A witness's name here is a label the bundle gives it; what identifies a witness is its key, and what identifies an authority is its certificate. A court confirms the keys and certificates by checking this bundle with a witness policy and the authority's certificate obtained from the witnesses and the authority themselves, not from this bundle (custody verify-bundle --policy WITNESSES.policy --tsa-cert AUTHORITY.pem): the check then names each witness as the policy does.",
    checkpoint_col: "Checkpoint",
    cosigned_col: "Cosigned by",
    stamped_col: "Time-stamped by",
    first_records: "first {n} records",
    key: "key",
    certificate: "certificate",
    none: "none",
};

pub static FR: Words = Words {
    title: "Dossier de preuves",
    verdict_ok: "Toutes les vérifications ont réussi : les pièces, leurs signataires et leur chaîne de possession.",
    verdict_bad: "{n} vérification(s) sur {total} en ÉCHEC. À lire avant de se fier à une pièce :",
    verdict_bad_where: "{check} : {detail}",
    verdict_note: "Selon les vérifications faites par custody à la création du dossier. Une page peut être falsifiée : custody verify-bundle vérifie à nouveau le dossier, et cette page avec lui.",
    failing_exported: "Des pièces qui échouent à leurs propres vérifications ont été exportées délibérément ; motif donné : {reason}",
    case: "Affaire",
    ledger: "Registre de preuves",
    exported_by: "Exporté par",
    exported_at: "Exporté le",
    checkpoint: "État du registre prouvé",
    checkpoint_of: "les {n} premiers enregistrements, signés par la clé du registre {key}",
    summary: "Ce dossier contient {n} pièce(s). Chacune est un enregistrement signé par la personne qui l'a faite, dont l'appartenance à l'histoire du registre, telle que la clé du registre l'a signée, est prouvée. Rien d'autre du registre ne figure dans ce dossier.",
    exhibit: "Pièce {seq}",
    testimony_of: "Témoignage de {subject}",
    media_file: "Fichier média {name}",
    recorded_by: "Enregistré par",
    unknown_person: "une clé à laquelle ce dossier n'associe personne",
    key_id: "identifiant de clé",
    fingerprint: "empreinte",
    signed_at: "Signé (horloge du signataire)",
    recorded_at: "Inscrit au registre",
    consent: "Consentement",
    no_consent: "aucun enregistré",
    consent_changed: "modifié par l'enregistrement {seq} ({when}) en : {consent}",
    exported_without_consent: "Exporté sans consentement à l'usage judiciaire ; motif donné : {reason}",
    attested: "Attestation indépendante",
    not_attested: "aucun témoin ni aucune autorité d'horodatage ne l'atteste : son heure est celle du registre",
    text: "Texte",
    versions: "Toutes les versions",
    original: "Original, enregistrement {seq}",
    correction: "Correction, enregistrement {seq}, inscrite le {when}",
    reason: "Motif",
    new_description: "Nouvelle description",
    text_in_file: "dans le dossier sous {file}",
    text_not_in_bundle: "Le texte ne figure pas dans ce dossier.",
    text_not_utf8: "Le texte n'est pas en UTF-8 ; voir le fichier dans le dossier.",
    erased: "Effacé par l'enregistrement {seq} ({when}) : {reason}. L'enregistrement et sa preuve demeurent ; le contenu ne peut plus être lu par personne.",
    name: "Nom",
    media_type: "Type",
    size: "Taille",
    bytes: "{n} octets",
    sha256: "SHA-256",
    file_in_bundle: "Fichier dans le dossier",
    file_not_in_bundle: "absent de ce dossier (la cour le reçoit à part ; son SHA-256 l'identifie)",
    description: "Description",
    custody: "Chaîne de possession",
    holder: "Détenteur",
    from: "Du",
    until: "Au",
    now: "la fin de ce que ce dossier consigne",
    how: "Comment",
    first_holder: "a enregistré la pièce (enregistrement {seq})",
    handed_over: "remise par l'enregistrement {seq}, signé par le remettant ({giver}) : {reason}",
    countersigned: "contresignée par le destinataire, enregistrement {seq}",
    pending: "EN ATTENTE : le destinataire n'a pas contresigné ; le remettant la détient encore",
    not_held_pending: "PROPOSÉE, NON ACCEPTÉE (ne l'a jamais détenue) :",
    not_held_withdrawn: "OFFRE RETIRÉE (ne l'a jamais détenue) :",
    withdrawn: "retirée par l'enregistrement {seq} avant d'être acceptée",
    timeline: "Chronologie",
    timeline_label: "chronologie des pièces, selon l'heure d'inscription de chacune",
    witnesses: "Témoins et horodatage",
    checks: "Toutes les vérifications",
    checks_intro: "Les échecs d'abord. Chacun peut les refaire avec custody verify-bundle, ou avec des outils courants comme l'explique VERIFY.txt.",
    check: "Vérification",
    rule: "Règle",
    result: "Résultat",
    passed: "réussie",
    failed: "ÉCHEC",
    page: "page",
    roles: [
        ("admin", "administrateur"),
        ("investigator", "enquêteur"),
        ("custodian", "dépositaire"),
        ("auditor", "auditeur"),
        ("ledger", "clé du registre"),
    ],
    months: [
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ],
    first_of_month: "1er",
    stamped_line: "inscrit au plus tard le {when}, attesté par {authority} (un horodatage du point de contrôle de {n} enregistrements{accuracy} ; par le certificat que porte le dossier : voir plus bas)",
    accuracy: ", horodaté le {when} avec une précision de {ms} ms",
    accuracy_short: "précision {ms} ms",
    cosigned_line: "point de contrôle de {n} enregistrements cosigné par {names} (par les clés que porte le dossier : voir plus bas)",
    at: "{who} le {when}",
    more: "{n} autre(s)",
    witnesses_none: "Aucun témoin indépendant n'a cosigné, et aucune autorité d'horodatage n'a horodaté, un point de contrôle couvrant ces pièces : les heures indiquées sont celles de l'horloge du registre.",
    witnesses_intro: "Un témoin indépendant ne cosigne un point de contrôle que s'il est cohérent avec tous ceux de ce registre qu'il a vus auparavant : le détenteur du registre ne peut montrer des histoires différentes à des personnes différentes. Une autorité d'horodatage signe qu'un point de contrôle existait à une heure donnée : rien de ce qu'il couvre n'a pu être écrit plus tard et antidaté. Chaque point de contrôle ci-dessous est prouvé être un préfixe de celui du dossier. Seules les attestations dont les vérifications ont réussi figurent ici.",
    witnesses_outro: "Le nom d'un témoin est ici une étiquette donnée par le dossier ; ce qui identifie un témoin est sa clé, et une autorité, son certificat. Une cour confirme clés et certificats en vérifiant ce dossier avec une politique de témoins et le certificat de l'autorité obtenus des témoins et de l'autorité eux-mêmes, non de ce dossier (custody verify-bundle --policy WITNESSES.policy --tsa-cert AUTHORITY.pem) : la vérification nomme alors chaque témoin comme la politique le fait.",
    checkpoint_col: "Point de contrôle",
    cosigned_col: "Cosigné par",
    stamped_col: "Horodaté par",
    first_records: "les {n} premiers enregistrements",
    key: "clé",
    certificate: "certificat",
    none: "aucun",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_in_words_agree_with_rfc3339() {
        // Every day boundary of a few years, leap days and the epoch included, against the
        // RFC 3339 form another implementation gives.
        for ms in [
            0u64,
            951_782_400_000,   // 2000-02-29
            1_709_164_800_000, // 2024-02-29
            1_796_000_000_000,
            1_795_950_000_000,
            4_102_444_799_000, // 2099-12-31T23:59:59
        ]
        .into_iter()
        .chain((0..800).map(|d| 1_700_000_000_000 + d * 86_400_000 + 3_599_000))
        {
            let iso = crate::record::rfc3339(ms);
            let (y, m, d) = civil((ms / 1000 / 86_400) as i64);
            assert_eq!(&iso[..10], format!("{y:04}-{m:02}-{d:02}"), "{ms}");
            let words = when(ms, Lang::En);
            assert!(
                words.ends_with(&format!("{} UTC", &iso[11..16])),
                "{words} {iso}"
            );
        }
        assert_eq!(
            when(1_796_029_020_000, Lang::En),
            "30 November 2026, 08:57 UTC"
        );
        assert_eq!(
            when(1_796_083_200_000, Lang::Fr),
            "1er décembre 2026, 00:00 UTC"
        );
        assert_eq!(day(1_796_029_020_000, Lang::Fr), "30 novembre 2026");
    }

    #[test]
    fn fill_puts_values_in_place() {
        assert_eq!(
            fill("{n} of {total}", &[("n", "2"), ("total", "9")]),
            "2 of 9"
        );
        // A value is never filled in again, and unknown keys stay.
        assert_eq!(
            fill(
                "{giver}: {reason} {x}",
                &[("giver", "Bob {reason}"), ("reason", "r")]
            ),
            "Bob {reason}: r {x}"
        );
    }
}

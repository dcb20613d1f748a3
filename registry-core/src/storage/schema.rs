//! The tables, in portable diesel types (text, integers, booleans, doubles, dates,
//! UTC timestamps) so that one schema serves SQLite and PostgreSQL.

diesel::table! {
    certification_bodies (id) {
        id -> Text,
        name -> Text,
        accreditation -> Text,
        jwks_uri -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    cb_keys (cb_id, kid) {
        cb_id -> Text,
        kid -> Text,
        jwk -> Text,
        first_seen -> Timestamp,
        retired_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    companies (kvk_number) {
        kvk_number -> Text,
        name -> Text,
        trade_names -> Text,
        city -> Nullable<Text>,
        province -> Nullable<Text>,
        sbi_codes -> Text,
        updated_at -> Timestamp,
        sort_name -> Text,
        city_key -> Nullable<Text>,
        search_text -> Text,
    }
}

diesel::table! {
    company_sbi (sbi_code, kvk_number) {
        sbi_code -> Text,
        kvk_number -> Text,
        sort_name -> Text,
    }
}

diesel::table! {
    search_words (id) {
        id -> BigInt,
        word -> Text,
    }
}

diesel::table! {
    search_word_trigrams (trigram, word_id) {
        trigram -> Text,
        word_id -> BigInt,
    }
}

diesel::table! {
    search_company_words (word_id, kvk_number) {
        word_id -> BigInt,
        kvk_number -> Text,
    }
}

diesel::table! {
    certificates (id) {
        id -> BigInt,
        number -> Text,
        scheme -> Text,
        cb_id -> Text,
        cb_reference -> Text,
        fingerprint -> Text,
        main_kvk -> Text,
        replaces_id -> Nullable<BigInt>,
        issued_at -> Timestamp,
        ends_at -> Timestamp,
        closed_at -> Nullable<Timestamp>,
        expiry_recorded_for -> Nullable<Timestamp>,
        starts_at -> Timestamp,
        history -> Text,
        top_level -> Integer,
        any_pso30plus -> Bool,
    }
}

diesel::table! {
    periods (id) {
        id -> BigInt,
        certificate_id -> BigInt,
        level -> Text,
        pso30plus -> Bool,
        valid_from -> Date,
        valid_until -> Date,
        audit_date -> Date,
        reference_year -> Integer,
        handbook_version -> Text,
        score_percent -> Nullable<Double>,
        total_fte -> Nullable<Double>,
    }
}

diesel::table! {
    coverage (certificate_id, kvk_number) {
        certificate_id -> BigInt,
        kvk_number -> Text,
        is_main -> Bool,
    }
}

diesel::table! {
    events (seq) {
        seq -> BigInt,
        certificate_id -> Nullable<BigInt>,
        cb_id -> Nullable<Text>,
        kind -> Text,
        effective_at -> Timestamp,
        recorded_at -> Timestamp,
        detail -> Text,
        evidence -> Nullable<Text>,
    }
}

diesel::table! {
    replay_guard (cb_id, jti) {
        cb_id -> Text,
        jti -> Text,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    log_leaves (log_index) {
        log_index -> BigInt,
        seq -> BigInt,
    }
}

diesel::table! {
    log_hashes (level, idx) {
        level -> Integer,
        idx -> BigInt,
        hash -> Binary,
    }
}

diesel::table! {
    log_head (id) {
        id -> Integer,
        size -> BigInt,
        frontier -> Binary,
    }
}

diesel::table! {
    log_checkpoints (size) {
        size -> BigInt,
        note -> Text,
        signed_at -> Timestamp,
    }
}

diesel::table! {
    evidence (reference) {
        reference -> Text,
        kvk_number -> Text,
        signed_answer -> Text,
        created_at -> Timestamp,
    }
}

diesel::joinable!(certificates -> certification_bodies (cb_id));
diesel::joinable!(cb_keys -> certification_bodies (cb_id));
diesel::joinable!(periods -> certificates (certificate_id));
diesel::joinable!(coverage -> certificates (certificate_id));
diesel::allow_tables_to_appear_in_same_query!(
    certification_bodies,
    cb_keys,
    companies,
    company_sbi,
    search_words,
    search_word_trigrams,
    search_company_words,
    certificates,
    periods,
    coverage,
    events,
    replay_guard,
    log_leaves,
    log_hashes,
    log_head,
    log_checkpoints,
    evidence,
    api_clients,
    subscriptions,
    subscription_secrets,
    watched,
    deliveries,
);

diesel::table! {
    api_clients (id) {
        id -> Text,
        name -> Text,
        key_hash -> Text,
        created_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    subscriptions (id) {
        id -> Text,
        client_id -> Text,
        url -> Text,
        everything -> Bool,
        kinds -> Text,
        expiring_days -> Nullable<Integer>,
        state -> Text,
        disabled_reason -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        cursor_seq -> BigInt,
        next_attempt_at -> Timestamp,
        failing_since -> Nullable<Timestamp>,
        lease_owner -> Nullable<Text>,
        lease_until -> Nullable<Timestamp>,
    }
}

diesel::table! {
    subscription_secrets (subscription_id, secret) {
        subscription_id -> Text,
        secret -> Text,
        created_at -> Timestamp,
        valid_until -> Nullable<Timestamp>,
    }
}

diesel::table! {
    watched (subscription_id, kvk_number) {
        subscription_id -> Text,
        kvk_number -> Text,
    }
}

diesel::table! {
    deliveries (id) {
        id -> Text,
        subscription_id -> Text,
        seq -> BigInt,
        kind -> Text,
        payload -> Nullable<Text>,
        created_at -> Timestamp,
        attempts -> Integer,
        last_attempt_at -> Nullable<Timestamp>,
        last_status -> Nullable<Integer>,
        last_error -> Nullable<Text>,
        delivered_at -> Nullable<Timestamp>,
    }
}

//! The portable schema: only types both SQLite and PostgreSQL share (Text, BigInt, Integer, Bool,
//! Timestamp), so one set of queries serves both through `DbConn`.

diesel::table! {
    users (id) {
        id -> Text,
        email -> Text,
        name -> Text,
        role -> Text,
        password_hash -> Text,
        time_zone -> Text,
        active -> Bool,
        must_change_password -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        feed_generation -> BigInt,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        user_id -> Text,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
        expires_at -> Timestamp,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
    }
}

diesel::table! {
    api_tokens (id) {
        id -> Text,
        user_id -> Text,
        label -> Text,
        token_hash -> Text,
        prefix -> Text,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    audit_log (id) {
        id -> Text,
        at -> Timestamp,
        actor_id -> Nullable<Text>,
        actor -> Text,
        action -> Text,
        target_type -> Nullable<Text>,
        target_id -> Nullable<Text>,
        detail -> Text,
        ip -> Nullable<Text>,
    }
}

diesel::table! {
    login_failures (id) {
        id -> Text,
        email -> Text,
        ip -> Text,
        at -> Timestamp,
    }
}

diesel::table! {
    app_settings (name) {
        name -> Text,
        value -> Text,
        updated_at -> Timestamp,
    }
}

diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(api_tokens -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    sessions,
    api_tokens,
    audit_log,
    login_failures,
    app_settings,
);

diesel::table! {
    services (id) {
        id -> Text,
        name -> Text,
        name_key -> Text,
        description -> Text,
        owner_id -> Nullable<Text>,
        archived_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        escalation_policy_id -> Nullable<Text>,
        webhook_url -> Nullable<Text>,
        webhook_format -> Text,
        webhook_secret -> Nullable<Text>,
    }
}

diesel::table! {
    integrations (id) {
        id -> Text,
        service_id -> Text,
        kind -> Text,
        name -> Text,
        key_hash -> Text,
        key_prefix -> Text,
        severity_label -> Text,
        severity_words -> Text,
        default_severity -> Text,
        per_alert -> Bool,
        rate_limit_per_second -> Nullable<Integer>,
        rate_limit_burst -> Nullable<Integer>,
        signing_secret -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    incidents (id) {
        id -> Text,
        number -> BigInt,
        service_id -> Text,
        integration_id -> Nullable<Text>,
        title -> Text,
        description -> Text,
        severity -> Text,
        status -> Text,
        dedup_key -> Nullable<Text>,
        alert_count -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        last_alert_at -> Nullable<Timestamp>,
        acknowledged_at -> Nullable<Timestamp>,
        acknowledged_by_id -> Nullable<Text>,
        acknowledged_by -> Nullable<Text>,
        resolved_at -> Nullable<Timestamp>,
        resolved_by_id -> Nullable<Text>,
        resolved_by -> Nullable<Text>,
        assignee_id -> Nullable<Text>,
        ack_deadline -> Timestamp,
        resolve_deadline -> Timestamp,
        sla_breached -> Bool,
        escalation_step -> Integer,
        previous_incident_id -> Nullable<Text>,
        flapping -> Bool,
        version -> BigInt,
    }
}

diesel::table! {
    alerts (id) {
        id -> Text,
        incident_id -> Text,
        fingerprint -> Text,
        status -> Text,
        title -> Text,
        severity -> Text,
        labels -> Text,
        annotations -> Text,
        links -> Text,
        generator_url -> Nullable<Text>,
        source -> Nullable<Text>,
        starts_at -> Nullable<Timestamp>,
        ends_at -> Nullable<Timestamp>,
        first_seen_at -> Timestamp,
        last_seen_at -> Timestamp,
        occurrences -> BigInt,
    }
}

diesel::table! {
    incident_events (id) {
        id -> Text,
        incident_id -> Text,
        at -> Timestamp,
        kind -> Text,
        actor_id -> Nullable<Text>,
        actor -> Text,
        message -> Text,
        alert_fingerprint -> Nullable<Text>,
        repeats -> BigInt,
        last_at -> Timestamp,
    }
}

diesel::table! {
    severity_levels (severity) {
        severity -> Text,
        ack_within_minutes -> Integer,
        resolve_within_minutes -> Integer,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    counters (name) {
        name -> Text,
        value -> BigInt,
    }
}

diesel::table! {
    schedules (id) {
        id -> Text,
        name -> Text,
        name_key -> Text,
        description -> Text,
        time_zone -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> BigInt,
        feed_generation -> BigInt,
        swaps_need_approval -> Bool,
    }
}

diesel::table! {
    schedule_versions (id) {
        id -> Text,
        schedule_id -> Text,
        effective_from -> Timestamp,
        layers -> Text,
        created_at -> Timestamp,
        created_by -> Text,
    }
}

diesel::table! {
    schedule_overrides (id) {
        id -> Text,
        schedule_id -> Text,
        user_id -> Text,
        start_at -> Timestamp,
        end_at -> Timestamp,
        reason -> Text,
        created_at -> Timestamp,
        created_by -> Text,
    }
}

diesel::table! {
    schedule_holidays (id) {
        id -> Text,
        schedule_id -> Text,
        day -> Date,
        name -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    handoff_notes (id) {
        id -> Text,
        schedule_id -> Text,
        author_id -> Nullable<Text>,
        author -> Text,
        at -> Timestamp,
        body -> Text,
    }
}

diesel::table! {
    swap_requests (id) {
        id -> Text,
        schedule_id -> Text,
        requester_id -> Text,
        offered_to -> Nullable<Text>,
        start_at -> Timestamp,
        end_at -> Timestamp,
        note -> Text,
        state -> Text,
        taker_id -> Nullable<Text>,
        override_id -> Nullable<Text>,
        decided_by -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    time_off (id) {
        id -> Text,
        user_id -> Text,
        start_at -> Timestamp,
        end_at -> Timestamp,
        reason -> Text,
        created_at -> Timestamp,
        created_by -> Text,
    }
}

diesel::table! {
    escalation_policies (id) {
        id -> Text,
        name -> Text,
        name_key -> Text,
        description -> Text,
        repeat_count -> Integer,
        steps -> Text,
        retrigger_stale_ack -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> BigInt,
    }
}

diesel::table! {
    escalation_jobs (id) {
        id -> Text,
        incident_id -> Text,
        kind -> Text,
        cycle -> Integer,
        step -> Integer,
        due_at -> Timestamp,
        reason -> Text,
        done_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    notifications (id) {
        id -> Text,
        incident_id -> Text,
        user_id -> Nullable<Text>,
        channel -> Text,
        address -> Text,
        event -> Text,
        reason -> Text,
        idempotency_key -> Text,
        state -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        leased_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        sent_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        contact_method_id -> Nullable<Text>,
        only_while_triggered -> Bool,
    }
}

diesel::table! {
    contact_methods (id) {
        id -> Text,
        user_id -> Text,
        kind -> Text,
        address -> Text,
        label -> Text,
        secret -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    notification_rules (id) {
        id -> Text,
        user_id -> Text,
        contact_method_id -> Nullable<Text>,
        delay_minutes -> Integer,
        created_at -> Timestamp,
    }
}

diesel::joinable!(integrations -> services (service_id));
diesel::joinable!(incidents -> services (service_id));
diesel::joinable!(alerts -> incidents (incident_id));
diesel::joinable!(incident_events -> incidents (incident_id));
diesel::joinable!(schedule_versions -> schedules (schedule_id));
diesel::joinable!(schedule_overrides -> schedules (schedule_id));
diesel::joinable!(schedule_overrides -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    services,
    integrations,
    incidents,
    alerts,
    incident_events,
    severity_levels,
    counters,
    users,
    schedules,
    schedule_versions,
    schedule_overrides,
    schedule_holidays,
    handoff_notes,
    swap_requests,
    time_off,
    escalation_policies,
    escalation_jobs,
    notifications,
    contact_methods,
    notification_rules,
);

//! `alpr admin`: manages the registry of organisations, cameras, users and sharing grants.
//! Every command loads the registry from its topic, validates the change and publishes it.

use clap::Subcommand;
use serde_json::json;

use alpr_registry::admin::{self, NewCamera, NewUser};
use alpr_registry::Registry;
use alpr_schemas::{from_micros, OrganisationLevel, UserRole};

use crate::app_config::AppConfig;

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Add organisations.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Add cameras; each gets its own ingest token.
    #[command(subcommand)]
    Camera(CameraCommand),
    /// Add and remove users; each gets a bearer token.
    #[command(subcommand)]
    User(UserCommand),
    /// Let an agency see the reads of another organisation's cameras, or stop it.
    #[command(subcommand)]
    Grant(GrantCommand),
    /// Print every organisation, camera, user and grant. Token hashes are left out.
    List {
        /// Print one JSON document instead of text lines.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Add an organisation.
    Add {
        /// Organisation id: lowercase letters, digits, '-', '_' and '.'.
        #[arg(long)]
        id: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// local, state or federal for an agency; private for anyone else.
        #[arg(long)]
        level: OrganisationLevel,
        /// ISO 3166-2 region such as US-WA; required unless the level is federal.
        #[arg(long)]
        state: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum CameraCommand {
    /// Add a camera and print its ingest token, which is shown only this once.
    Add {
        /// Camera id, as the camera sends it in its reads.
        #[arg(long)]
        id: String,
        /// Id of the organisation that owns the camera and its reads.
        #[arg(long)]
        org: String,
        /// Display name, such as the crossing it watches.
        #[arg(long)]
        name: String,
        /// Latitude in degrees, -90 to 90.
        #[arg(long, allow_negative_numbers = true)]
        lat: f64,
        /// Longitude in degrees, -180 to 180.
        #[arg(long, allow_negative_numbers = true)]
        lon: f64,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user and print their bearer token alone on the last line; it is shown only once.
    Add {
        /// User id: lowercase letters, digits, '-', '_' and '.'.
        #[arg(long)]
        id: String,
        /// Id of the user's organisation.
        #[arg(long)]
        org: String,
        /// investigator, supervisor, auditor or admin.
        #[arg(long)]
        role: UserRole,
    },
    /// Remove a user; their token stops working wherever the registry is followed.
    Remove {
        /// Id of the user to remove.
        #[arg(long)]
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum GrantCommand {
    /// Let the agency GRANTEE see the reads of every camera of OWNER. Sharing is one way.
    Add {
        /// Id of the organisation that owns the cameras.
        #[arg(long)]
        owner: String,
        /// Id of the agency that receives access.
        #[arg(long)]
        grantee: String,
        /// User id of the person granting access, recorded in the grant.
        #[arg(long = "by", env = "USER")]
        granted_by: String,
    },
    /// Take back the access of GRANTEE to the reads of OWNER.
    Revoke {
        /// Id of the organisation that owns the cameras.
        #[arg(long)]
        owner: String,
        /// Id of the agency that loses access.
        #[arg(long)]
        grantee: String,
    },
}

/// Runs one `alpr admin` command and prints its result.
pub async fn execute_admin(config: &AppConfig, command: AdminCommand) -> anyhow::Result<()> {
    let kafka = &config.kafka;
    // The registry topic may not exist yet on a new cluster; every command reads it first.
    alpr_platform::ensure_topics(kafka).await?;
    let now = chrono::Utc::now();
    match command {
        AdminCommand::Org(OrgCommand::Add {
            id,
            name,
            level,
            state,
        }) => {
            let organisation =
                admin::add_organisation(kafka, &id, &name, level, state.as_deref()).await?;
            println!(
                "organisation {} added ({})",
                organisation.organisation_id, organisation.level
            );
        }
        AdminCommand::Camera(CameraCommand::Add {
            id,
            org,
            name,
            lat,
            lon,
        }) => {
            let camera = NewCamera {
                camera_id: id.clone(),
                organisation_id: org,
                name,
                latitude: lat,
                longitude: lon,
            };
            let token = admin::add_camera(kafka, camera).await?;
            println!("camera {id} added; its ingest token, shown only this once:");
            println!("{}", token.token);
        }
        AdminCommand::User(UserCommand::Add { id, org, role }) => {
            let user = NewUser {
                user_id: id.clone(),
                organisation_id: org,
                role,
            };
            let token = admin::add_user(kafka, user, now).await?;
            println!("user {id} added ({role}); their bearer token, shown only this once:");
            println!("{}", token.token);
        }
        AdminCommand::User(UserCommand::Remove { id }) => {
            admin::remove_user(kafka, &id).await?;
            println!("user {id} removed");
        }
        AdminCommand::Grant(GrantCommand::Add {
            owner,
            grantee,
            granted_by,
        }) => {
            admin::add_grant(kafka, &config.registry, &owner, &grantee, &granted_by, now).await?;
            println!("{grantee} may now see the reads of {owner}");
        }
        AdminCommand::Grant(GrantCommand::Revoke { owner, grantee }) => {
            admin::revoke_grant(kafka, &owner, &grantee).await?;
            println!("{grantee} no longer sees the reads of {owner}");
        }
        AdminCommand::List { json } => {
            let registry = admin::list(kafka).await?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&listing_json(&registry))?
                );
            } else {
                for line in listing_lines(&registry) {
                    println!("{line}");
                }
            }
        }
    }
    Ok(())
}

/// Formats a time in microseconds as RFC 3339 to the second.
fn format_micros(micros: i64) -> String {
    from_micros(micros).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Returns one line per entry, organisations first, each starting with the kind of entry.
pub fn listing_lines(registry: &Registry) -> Vec<String> {
    let mut lines = Vec::new();
    for organisation in registry.organisations() {
        lines.push(format!(
            "organisation {} level={} state={} name={:?}",
            organisation.organisation_id,
            organisation.level,
            organisation.state.as_deref().unwrap_or("-"),
            organisation.name
        ));
    }
    for camera in registry.cameras() {
        lines.push(format!(
            "camera {} org={} lat={} lon={} name={:?}",
            camera.camera_id,
            camera.organisation_id,
            camera.latitude,
            camera.longitude,
            camera.name
        ));
    }
    for user in registry.users() {
        lines.push(format!(
            "user {} org={} role={} created_at={}",
            user.user_id,
            user.organisation_id,
            user.role,
            format_micros(user.created_at)
        ));
    }
    for grant in registry.grants() {
        lines.push(format!(
            "grant {} -> {} by={} granted_at={}",
            grant.owner_organisation_id,
            grant.grantee_organisation_id,
            grant.granted_by,
            format_micros(grant.granted_at)
        ));
    }
    lines
}

/// Returns the registry as one JSON document, without token hashes.
pub fn listing_json(registry: &Registry) -> serde_json::Value {
    let organisations: Vec<_> = registry
        .organisations()
        .map(|organisation| {
            json!({
                "id": organisation.organisation_id,
                "name": organisation.name,
                "level": organisation.level.as_str(),
                "state": organisation.state,
            })
        })
        .collect();
    let cameras: Vec<_> = registry
        .cameras()
        .map(|camera| {
            json!({
                "id": camera.camera_id,
                "organisation": camera.organisation_id,
                "name": camera.name,
                "latitude": camera.latitude,
                "longitude": camera.longitude,
            })
        })
        .collect();
    let users: Vec<_> = registry
        .users()
        .map(|user| {
            json!({
                "id": user.user_id,
                "organisation": user.organisation_id,
                "role": user.role.as_str(),
                "created_at": format_micros(user.created_at),
            })
        })
        .collect();
    let grants: Vec<_> = registry
        .grants()
        .map(|grant| {
            json!({
                "owner": grant.owner_organisation_id,
                "grantee": grant.grantee_organisation_id,
                "granted_by": grant.granted_by,
                "granted_at": format_micros(grant.granted_at),
            })
        })
        .collect();
    json!({
        "organisations": organisations,
        "cameras": cameras,
        "users": users,
        "grants": grants,
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use alpr_registry::hash_token;
    use alpr_schemas::{encode, Camera, Organisation, RegistryRecord};

    use super::*;
    use crate::cli::{Cli, Command};

    #[test]
    fn camera_add_takes_negative_longitude() {
        let cli = Cli::try_parse_from([
            "alpr",
            "admin",
            "camera",
            "add",
            "--id",
            "cam-1",
            "--org",
            "spd",
            "--name",
            "5th and Pine",
            "--lat",
            "47.61",
            "--lon",
            "-122.33",
        ])
        .expect("command line parses");
        let Command::Admin(AdminCommand::Camera(CameraCommand::Add { lon, lat, .. })) = cli.command
        else {
            panic!("parsed as another command: {:?}", cli.command);
        };
        assert_eq!(lat, 47.61);
        assert_eq!(lon, -122.33);
    }

    #[test]
    fn unknown_level_is_rejected_with_choices() {
        let error = Cli::try_parse_from([
            "alpr",
            "admin",
            "org",
            "add",
            "--id",
            "spd",
            "--name",
            "Seattle Police",
            "--level",
            "city",
        ])
        .expect_err("city is no level");
        assert!(
            error
                .to_string()
                .contains("local, state, federal or private"),
            "{error}"
        );
    }

    #[test]
    fn listing_leaves_out_token_hashes() {
        let mut registry = Registry::default();
        let organisation = RegistryRecord {
            organisation: Some(Organisation {
                organisation_id: "spd".into(),
                name: "Seattle Police".into(),
                level: OrganisationLevel::Local,
                state: Some("US-WA".into()),
            }),
            ..RegistryRecord::default()
        };
        let token_hash = hash_token("alpr_camera_example");
        let camera = RegistryRecord {
            camera: Some(Camera {
                camera_id: "cam-1".into(),
                organisation_id: "spd".into(),
                name: "5th and Pine".into(),
                latitude: 47.61,
                longitude: -122.33,
                token_hash: token_hash.clone(),
            }),
            ..RegistryRecord::default()
        };
        for (key, record) in [("organisation:spd", organisation), ("camera:cam-1", camera)] {
            let bytes = encode(&record).expect("encode");
            registry.apply(key, Some(&bytes)).expect("apply");
        }

        let lines = listing_lines(&registry);
        assert_eq!(lines.len(), 2);
        assert!(
            lines[0].starts_with("organisation spd level=local state=US-WA"),
            "{}",
            lines[0]
        );
        assert!(lines[1].starts_with("camera cam-1 org=spd"), "{}", lines[1]);
        let json = listing_json(&registry);
        assert_eq!(json["cameras"][0]["organisation"], "spd");
        assert_eq!(json["organisations"][0]["level"], "local");
        let text = format!("{}{json}", lines.join("\n"));
        assert!(!text.contains(&token_hash));
    }
}

//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 document of the whole API.
//!
//! Schemas are derived from the very types the handlers (de)serialize
//! (`overcast_api_types`, feature `openapi`); the L1 paths are generated from the
//! `Resource` table the handlers dispatch on, so neither can drift from the code.

use std::sync::OnceLock;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use overcast_api_types::{access, deployments, images, jobs, l1, metrics, placement, usage};
use overcast_api_types::{
    Aggregate, ErrorBody, ErrorDetail, FieldError, Health, ImportIssue, ImportReport,
    InventorySummary, LoginRequest, LoginResponse, Me, NewSite, Role, Site, SiteAnswer,
    SiteAnswerStatus, SiteCredentials, SiteEvent, SiteList, SiteState, SiteUpdate,
};
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::path::{Operation, OperationBuilder, ParameterBuilder, ParameterIn, PathItem};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::{ResponseBuilder, ResponsesBuilder};
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{OpenApi, Paths, PathsBuilder, Ref, RefOr, Required, Schema};
use utoipa::OpenApi as _;

use super::site_resources::Resource;

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Overcast",
        description = "One console for many OpenStack edge sites, through their public APIs only."
    ),
    components(schemas(
        ErrorBody,
        ErrorDetail,
        FieldError,
        Health,
        LoginRequest,
        LoginResponse,
        Me,
        Role,
        Site,
        SiteList,
        SiteState,
        SiteCredentials,
        NewSite,
        SiteUpdate,
        ImportReport,
        ImportIssue,
        l1::Server,
        l1::ServerFlavor,
        l1::NewServer,
        l1::ServerAction,
        l1::ServerActionRequest,
        l1::Flavor,
        l1::NewFlavor,
        l1::Image,
        l1::NewImage,
        l1::Network,
        l1::NewNetwork,
        l1::Subnet,
        l1::NewSubnet,
        l1::Volume,
        l1::NewVolume,
        l1::Keypair,
        l1::NewKeypair,
        l1::SecurityGroup,
        l1::NewSecurityGroup,
        l1::Project,
        l1::NewProject,
        l1::User,
        l1::NewUser,
        l1::RoleAssignment,
        l1::NewRoleAssignment,
        l1::Quotas,
        l1::QuotaUsage,
        l1::ServerEvent,
        l1::ConsoleLog,
        l1::VolumeAttachmentRequest,
        l1::QuotaUpdate,
        l1::Hypervisor,
        l1::ComputeService,
        Aggregate,
        InventorySummary,
        SiteEvent,
        SiteAnswer,
        SiteAnswerStatus,
        jobs::JobState,
        jobs::TaskState,
        jobs::Targets,
        jobs::Rollout,
        jobs::NewJob,
        images::ImageRef,
        images::ImageCopyRequest,
        images::ImageCatalog,
        images::FederatedBoot,
        images::PolicyImage,
        images::NewImagePolicy,
        images::ImagePolicy,
        images::PolicyDrift,
        images::ImagePolicyList,
        images::CatalogEntry,
        images::CatalogSite,
        metrics::MetricsSummary,
        metrics::MetricsGroup,
        metrics::SiteMetrics,
        metrics::MetricSeries,
        metrics::SeriesLine,
        metrics::SeriesPoint,
        metrics::QuotaReport,
        metrics::SiteQuotas,
        usage::UsageReport,
        usage::UsageRow,
        usage::UnknownUsage,
        placement::PlanRequest,
        placement::PlacementChoice,
        placement::Constraints,
        placement::SpreadAcross,
        placement::Headroom,
        placement::Affinity,
        placement::Plan,
        placement::Allocation,
        placement::Exclusion,
        deployments::NewDeployment,
        deployments::SurplusRule,
        deployments::DeploymentPatch,
        deployments::Deployment,
        deployments::DeploymentSite,
        deployments::DeployedServer,
        deployments::DeploymentEvent,
        deployments::DeploymentList,
        jobs::Task,
        jobs::Progress,
        jobs::Transfer,
        jobs::TaskCounts,
        jobs::Job,
        jobs::JobList,
        jobs::JobPreview,
        jobs::PreviewSite,
        jobs::TaskEvent,
        access::ConsoleUser,
        access::NewConsoleUser,
        access::ConsoleUserUpdate,
        access::ConsoleUserList,
        access::ApiToken,
        access::NewApiToken,
        access::CreatedApiToken,
        access::ApiTokenList,
        access::AuditEntry,
        access::AuditList,
    ))
)]
struct Components;

/// What a route answers on success.
enum Success {
    /// One object of this schema, with the status.
    One(u16, &'static str),
    /// `{"site", "items": [...]}` of this schema.
    Items(&'static str),
    NoContent,
    /// 202 without a body: the site was asked and finishes by itself.
    Accepted,
    Bytes,
    /// Server-Sent Events.
    Events,
    /// JSON lines (`application/x-ndjson`).
    Lines,
    /// The Prometheus text exposition format (`text/plain; version=0.0.4`).
    Prometheus,
    /// A JSON document without a schema of ours (this very document).
    AnyJson,
}

struct Route {
    method: &'static str,
    path: &'static str,
    operation_id: String,
    summary: String,
    request: Option<&'static str>,
    success: Success,
    authenticated: bool,
    /// Takes a site selection and the aggregate read options.
    across_sites: bool,
    /// Query parameters of its own: name, description, type.
    queries: Vec<(&'static str, &'static str, Type)>,
    /// Another success answer: status, schema, description.
    also: Option<(u16, &'static str, &'static str)>,
}

impl Route {
    fn new(
        method: &'static str,
        path: &'static str,
        operation_id: impl Into<String>,
        summary: impl Into<String>,
    ) -> Self {
        Route {
            method,
            path,
            operation_id: operation_id.into(),
            summary: summary.into(),
            request: None,
            success: Success::NoContent,
            authenticated: true,
            across_sites: false,
            queries: Vec::new(),
            also: None,
        }
    }

    fn query(mut self, name: &'static str, description: &'static str, kind: Type) -> Self {
        self.queries.push((name, description, kind));
        self
    }

    fn also_answers(
        mut self,
        status: u16,
        schema: &'static str,
        description: &'static str,
    ) -> Self {
        self.also = Some((status, schema, description));
        self
    }

    fn takes(mut self, schema: &'static str) -> Self {
        self.request = Some(schema);
        self
    }

    fn answers(mut self, success: Success) -> Self {
        self.success = success;
        self
    }

    fn across_sites(mut self) -> Self {
        self.across_sites = true;
        self
    }

    fn public(mut self) -> Self {
        self.authenticated = false;
        self
    }
}

/// Names and schemas of one L1 resource: (path segment, item schema, create schema, create status).
fn l1_schemas(resource: Resource) -> (&'static str, &'static str, Option<(&'static str, u16)>) {
    match resource {
        Resource::Servers => ("servers", "Server", Some(("NewServer", 202))),
        Resource::Images => ("images", "Image", Some(("NewImage", 201))),
        Resource::Flavors => ("flavors", "Flavor", Some(("NewFlavor", 201))),
        Resource::Networks => ("networks", "Network", Some(("NewNetwork", 201))),
        Resource::Subnets => ("subnets", "Subnet", Some(("NewSubnet", 201))),
        Resource::Volumes => ("volumes", "Volume", Some(("NewVolume", 202))),
        Resource::Keypairs => ("keypairs", "Keypair", Some(("NewKeypair", 201))),
        Resource::SecurityGroups => (
            "security-groups",
            "SecurityGroup",
            Some(("NewSecurityGroup", 201)),
        ),
        Resource::Projects => ("projects", "Project", Some(("NewProject", 201))),
        Resource::Users => ("users", "User", Some(("NewUser", 201))),
        Resource::RoleAssignments => (
            "role-assignments",
            "RoleAssignment",
            Some(("NewRoleAssignment", 201)),
        ),
        Resource::Quotas => ("quotas", "Quotas", None),
        Resource::Hypervisors => ("hypervisors", "Hypervisor", None),
        Resource::Services => ("services", "ComputeService", None),
    }
}

fn leak(text: String) -> &'static str {
    // Built once per process (the document is cached), so this is bounded.
    Box::leak(text.into_boxed_str())
}

fn routes() -> Vec<Route> {
    let mut routes = vec![
        Route::new("get", "/healthz", "healthz", "The process is alive").answers(Success::One(200, "Health")).public(),
        Route::new("get", "/readyz", "readyz", "The database answers and its schema is current").answers(Success::One(200, "Health")).public(),
        Route::new("get", "/metrics", "prometheus_metrics", "The console's own metrics and the fleet's collected figures for Prometheus (any role; a scoped caller gets only its sites' series and no console-wide ones); no site is asked")
            .answers(Success::Prometheus),
        Route::new("post", "/api/v1/auth/login", "login", "Exchange a username and password for a bearer token")
            .takes("LoginRequest")
            .answers(Success::One(200, "LoginResponse"))
            .public(),
        Route::new("get", "/api/v1/openapi.json", "openapi", "This document: the OpenAPI 3.1 description of the whole API")
            .answers(Success::AnyJson)
            .public(),
        Route::new("get", "/api/v1/auth/me", "me", "The caller behind the bearer token").answers(Success::One(200, "Me")),
        Route::new("post", "/api/v1/auth/logout", "logout", "End this session: its token is refused from now on"),
        Route::new("post", "/api/v1/auth/refresh", "refresh", "A fresh session token for this one, which is revoked")
            .answers(Success::One(200, "LoginResponse")),
        Route::new("get", "/api/v1/auth/tokens", "list_api_tokens", "The caller's API tokens (admins: `all=true` for everyone's)")
            .answers(Success::One(200, "ApiTokenList")),
        Route::new("post", "/api/v1/auth/tokens", "create_api_token", "A new API token, shown once")
            .takes("NewApiToken")
            .answers(Success::One(201, "CreatedApiToken")),
        Route::new("delete", "/api/v1/auth/tokens/{id}", "revoke_api_token", "Revoke an API token"),
        Route::new("get", "/api/v1/admin/users", "list_console_users", "Console users with their roles and site scopes")
            .answers(Success::One(200, "ConsoleUserList")),
        Route::new("post", "/api/v1/admin/users", "create_console_user", "Create a console user")
            .takes("NewConsoleUser")
            .answers(Success::One(201, "ConsoleUser")),
        Route::new("patch", "/api/v1/admin/users/{id}", "update_console_user", "Change a user's password, role or scope")
            .takes("ConsoleUserUpdate")
            .answers(Success::One(200, "ConsoleUser")),
        Route::new("delete", "/api/v1/admin/users/{id}", "delete_console_user", "Delete a console user (not the last admin, not yourself)"),
        Route::new("get", "/api/v1/audit", "list_audit", "The audit log, newest first (query: actor, action (prefix), site, outcome (ok, denied, failed, or a job or site state), since and until (RFC 3339), before (paging), limit); a refused call's detail says why")
            .answers(Success::One(200, "AuditList")),
        Route::new("get", "/api/v1/audit/export", "export_audit", "The audit log as JSON lines (application/x-ndjson)")
            .answers(Success::Lines),
        Route::new("get", "/api/v1/sites", "list_sites", "Registered sites with their health").answers(Success::One(200, "SiteList")),
        Route::new("post", "/api/v1/sites", "create_site", "Register a site").takes("NewSite").answers(Success::One(201, "Site")),
        Route::new("post", "/api/v1/sites/import", "import_sites", "Register every cloud of a clouds.yaml (body: application/yaml; query: labels, replace)")
            .answers(Success::One(200, "ImportReport")),
        Route::new("get", "/api/v1/sites/{site}", "show_site", "One site").answers(Success::One(200, "Site")),
        Route::new("patch", "/api/v1/sites/{site}", "update_site", "Change a site's registration").takes("SiteUpdate").answers(Success::One(200, "Site")),
        Route::new("delete", "/api/v1/sites/{site}", "delete_site", "Remove a site from the console (the site itself is untouched)"),
        Route::new("get", "/api/v1/sites/{site}/capabilities", "site_capabilities", "Services the site offers, with versions (a map of service type to its version range or features)")
            .answers(Success::AnyJson),
        Route::new("get", "/api/v1/sites/{site}/quotas/{project}", "show_quotas", "A project's quotas in every service of the site")
            .answers(Success::One(200, "Quotas")),
        Route::new("put", "/api/v1/sites/{site}/quotas/{project}", "update_quotas", "Change a project's quotas")
            .takes("QuotaUpdate")
            .answers(Success::One(200, "Quotas")),
        Route::new("post", "/api/v1/sites/{site}/servers/{id}/action", "server_action", "Start, stop or reboot a server")
            .takes("ServerActionRequest")
            .answers(Success::NoContent),
        Route::new("get", "/api/v1/sites/{site}/servers/{id}/events", "server_events", "What was done to a server (Nova's instance actions), newest first")
            .answers(Success::Items("ServerEvent")),
        Route::new("post", "/api/v1/sites/{site}/servers/{id}/volumes", "attach_volume", "Attach a volume (id or name) to a server")
            .takes("VolumeAttachmentRequest")
            .answers(Success::Accepted),
        Route::new("delete", "/api/v1/sites/{site}/servers/{id}/volumes/{volume}", "detach_volume", "Detach a volume from a server")
            .answers(Success::Accepted),
        Route::new("get", "/api/v1/sites/{site}/servers/{id}/console-log", "server_console_log", "The tail of a server's console log (query: lines, default 200), or why the site has none")
            .answers(Success::One(200, "ConsoleLog")),
        Route::new("put", "/api/v1/sites/{site}/images/{id}/file", "upload_image_data", "Stream image data (application/octet-stream) to the site")
            .answers(Success::One(200, "Image")),
        Route::new("get", "/api/v1/sites/{site}/images/{id}/file", "download_image_data", "Stream image data from the site")
            .answers(Success::Bytes),
        Route::new("get", "/api/v1/metrics/summary", "metrics_summary", "The latest collected figures of every selected site (query: sites or selector, group_by a label), with fleet and per-group totals; a site with a gap (unreachable, failing, not collected yet) says why and adds nothing to the totals")
            .answers(Success::One(200, "MetricsSummary")),
        Route::new("get", "/api/v1/metrics/series", "metrics_series", "One metric over time across the selected sites (query: metric, sites or selector, from and to as unix seconds or RFC 3339, step in seconds, agg sum|avg|max|min, group_by a label); a step where no site had a figure has a null value")
            .answers(Success::One(200, "MetricSeries")),
        Route::new("get", "/api/v1/metrics/quotas", "metrics_quotas", "What each project may use and uses at every selected site (query: sites or selector, project by name or id), as the collector last read it from Nova, Neutron and Cinder; the console's own project first, at most 50 projects a site; a site without figures says why in gap")
            .answers(Success::One(200, "QuotaReport")),
        Route::new("get", "/api/v1/usage", "usage", "VM, vCPU, RAM, disk and volume hours over a period (query: from and to as unix seconds or RFC 3339, default the last 30 days; group_by site, project or a site label; sites or selector), from each site's Nova usage report and the volumes the console observed; as CSV with Accept: text/csv. Sites that cannot say are listed in unknown, never counted as zero")
            .answers(Success::One(200, "UsageReport")),
        Route::new("post", "/api/v1/placement/plan", "placement_plan", "Where count servers of a flavor would go among the sites the caller may use, by a policy (spread, pack, power_of_two, lowest_latency, image_locality) and constraints (selector, exclude, max_per_site, spread_across, min_free, affinity), from the collected capacity: a reason for each allocation and each site left out, and for a plan that cannot be met what would make it possible; nothing is created")
            .takes("PlanRequest")
            .answers(Success::One(200, "Plan")),
        Route::new("get", "/api/v1/deployments", "list_deployments", "Deployments (a desired state: count servers of a flavor and image, placed by a policy and constraints, kept true by the console), each with its servers per site as last seen (serving, pending, unknown, surplus) and its newest events; a scoped caller sees those made within their scope")
            .answers(Success::One(200, "DeploymentList")),
        Route::new("post", "/api/v1/deployments", "create_deployment", "A deployment: the console boots its servers where the placement says; a site unreachable beyond grace_s (default 300) has its servers replaced elsewhere; when it returns, nothing serving is deleted unless surplus is remove_newest (the newest go, once every server counted is ACTIVE). Servers are named <name>-<n> and carry the Nova metadata overcast_deployment=<id>")
            .takes("NewDeployment")
            .answers(Success::One(201, "Deployment")),
        Route::new("get", "/api/v1/deployments/{id}", "show_deployment", "One deployment, as last seen, with its events")
            .answers(Success::One(200, "Deployment")),
        Route::new("patch", "/api/v1/deployments/{id}", "update_deployment", "Scale (a lower count deletes the newest servers beyond it), or change the surplus rule or the grace period")
            .takes("DeploymentPatch")
            .answers(Success::One(200, "Deployment")),
        Route::new("delete", "/api/v1/deployments/{id}", "delete_deployment", "Deletes the deployment's servers (waiting for sites that do not answer), then the deployment: 202 with the deployment in state deleting")
            .answers(Success::One(202, "Deployment")),
        Route::new("get", "/api/v1/inventory/summary", "inventory_summary", "Fleet totals from the inventory, without asking the sites")
            .answers(Success::One(200, "InventorySummary")),
        Route::new("post", "/api/v1/servers", "boot_servers", "Boot servers from one image (image: {site, image_id}, or image_name) on the target sites, or on the sites a placement ({policy, constraints}, as POST /api/v1/placement/plan; count is then the total) chooses: a job of kind servers.boot; each site lacking the image gets a verified copy first, then its servers are followed until ACTIVE or ERROR. With a placement, servers a site has no room for (Nova: No valid host; a quota refusal) are deleted there and placed again, up to 3 times, on sites the job has not used, as new tasks of the job under the same names; the first site's task result says where they went (moved: {reason, to: [{site, servers}]})")
            .takes("FederatedBoot")
            .answers(Success::One(202, "Job")),
        Route::new("get", "/api/v1/images/policies", "list_image_policies", "Replication policies, each with its drift per target site")
            .answers(Success::One(200, "ImagePolicyList")),
        Route::new("post", "/api/v1/images/policies", "create_image_policy", "Keep an image ({site, image_id} or {sha512}) on every site the targets select; sites lacking it get copies, now and whenever they join or come back (admin)")
            .takes("NewImagePolicy")
            .answers(Success::One(201, "ImagePolicy")),
        Route::new("get", "/api/v1/images/policies/{id}", "show_image_policy", "One replication policy with its drift per site")
            .answers(Success::One(200, "ImagePolicy")),
        Route::new("delete", "/api/v1/images/policies/{id}", "delete_image_policy", "Forget a replication policy; the copies it made stay unless delete_copies=true (admin)")
            .query("delete_copies", "true: also remove, from every site of the policy, the copies Overcast made of its image (tagged overcast-copy; other images stay), by a job of kind image.delete_copies answered with 202", Type::Boolean)
            .answers(Success::NoContent)
            .also_answers(202, "Job", "The policy is gone and this job removes its copies"),
        Route::new("get", "/api/v1/images/catalog", "image_catalog", "Every selected site's images grouped by content (sha512), with the sites holding each; sites that did not answer show their last-known images marked stale_since (query: sites or selector, name, timeout_ms, max_age_ms)")
            .answers(Success::One(200, "ImageCatalog")),
        Route::new("post", "/api/v1/images/copy", "copy_image", "Copy one site's image to every target site: a job of kind image.copy; the source is read once, each copy is checked by the target's own sha512, a target that already holds the data keeps it")
            .takes("ImageCopyRequest")
            .answers(Success::One(202, "Job")),
        Route::new("post", "/api/v1/jobs", "create_job", "Start a bulk operation over a site selection (or, with dry_run=true, check it and list the sites it would run at)")
            .takes("NewJob")
            .query("dry_run", "true: check the job exactly like a submission (same errors) and answer 200 with the sites the targets match, creating nothing and asking no site", Type::Boolean)
            .answers(Success::One(202, "Job"))
            .also_answers(200, "JobPreview", "A dry run: the sites the job would run at; nothing was created"),
        Route::new("get", "/api/v1/jobs", "list_jobs", "The newest jobs first (query: limit, state)").answers(Success::One(200, "JobList")),
        Route::new("get", "/api/v1/jobs/{id}", "show_job", "A job with every site's task").answers(Success::One(200, "Job")),
        Route::new("post", "/api/v1/jobs/{id}/cancel", "cancel_job", "Cancel the tasks that have not started")
            .answers(Success::One(200, "Job")),
        Route::new("post", "/api/v1/jobs/{id}/retry", "retry_job", "Run the failed and cancelled tasks again")
            .answers(Success::One(200, "Job")),
        Route::new("get", "/api/v1/jobs/{id}/events", "job_events", "Server-Sent Events: `job` (the job), `task` (a TaskEvent per change), `job` again when it finishes")
            .answers(Success::Events),
        Route::new("get", "/api/v1/events", "console_events", "Server-Sent Events: `site` (a site's state changed) and `job` (a job's state changed)")
            .answers(Success::Events),
    ];
    for resource in [
        Resource::Servers,
        Resource::Images,
        Resource::Flavors,
        Resource::Networks,
        Resource::Volumes,
        Resource::Projects,
        Resource::Users,
    ] {
        let (segment, _, _) = l1_schemas(resource);
        routes.push(
            Route::new(
                "get",
                leak(format!("/api/v1/{segment}")),
                format!("list_{}_across_sites", segment.replace('-', "_")),
                format!("The {segment} of many sites at once"),
            )
            .answers(Success::One(200, "Aggregate"))
            .across_sites(),
        );
    }
    for resource in Resource::ALL {
        let (segment, item, create) = l1_schemas(resource);
        let name = segment.replace('-', "_");
        let collection = leak(format!("/api/v1/sites/{{site}}/{segment}"));
        let single = leak(format!("/api/v1/sites/{{site}}/{segment}/{{id}}"));
        if resource == Resource::Quotas {
            routes.push(
                Route::new(
                    "get",
                    collection,
                    "list_quotas",
                    "Quotas of the console's own project",
                )
                .answers(Success::One(200, item)),
            );
            continue;
        }
        routes.push(
            Route::new(
                "get",
                collection,
                format!("list_{name}"),
                format!("List the site's {segment}"),
            )
            .answers(Success::Items(item)),
        );
        if !matches!(resource, Resource::RoleAssignments | Resource::Services) {
            routes.push(
                Route::new(
                    "get",
                    single,
                    format!("show_{name}"),
                    format!("One of the site's {segment}"),
                )
                .answers(Success::One(200, item)),
            );
        }
        if let Some((schema, status)) = create {
            routes.push(
                Route::new(
                    "post",
                    collection,
                    format!("create_{name}"),
                    format!("Create one of {segment} at the site"),
                )
                .takes(schema)
                .answers(Success::One(status, item)),
            );
            routes.push(Route::new(
                "delete",
                single,
                format!("delete_{name}"),
                format!("Delete one of the site's {segment}"),
            ));
        }
    }
    routes
}

fn json_content(schema: RefOr<Schema>) -> utoipa::openapi::content::Content {
    ContentBuilder::new().schema(Some(schema)).build()
}

fn schema_ref(name: &str) -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name(name))
}

fn operation(route: &Route) -> Operation {
    let mut builder = OperationBuilder::new()
        .operation_id(Some(route.operation_id.clone()))
        .summary(Some(route.summary.clone()));
    for segment in route
        .path
        .split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
    {
        builder = builder.parameter(
            ParameterBuilder::new()
                .name(segment)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .schema(Some(ObjectBuilder::new().schema_type(Type::String))),
        );
    }
    if route.path.starts_with("/api/v1/sites/{site}/") {
        builder = builder.parameter(
            ParameterBuilder::new()
                .name("timeout_ms")
                .parameter_in(ParameterIn::Query)
                .required(Required::False)
                .description(Some(
                    "Deadline for asking the site, in milliseconds (default 10000, at most 120000)",
                ))
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .minimum(Some(1)),
                )),
        );
    }
    if route.across_sites {
        let query = |name: &str, description: &str, kind: Type| {
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Query)
                .required(Required::False)
                .description(Some(description))
                .schema(Some(ObjectBuilder::new().schema_type(kind)))
                .build()
        };
        builder = builder
            .parameter(query("sites", "Comma-separated site names", Type::String))
            .parameter(query(
                "selector",
                "Label selector, e.g. region=eu,tier!=test",
                Type::String,
            ))
            .parameter(query(
                "timeout_ms",
                "Deadline for asking the sites (default 2000)",
                Type::Integer,
            ))
            .parameter(query(
                "max_age_ms",
                "Cached data younger than this may be used without asking the site",
                Type::Integer,
            ))
            .parameter(query(
                "name",
                "Only items whose name contains this",
                Type::String,
            ))
            .parameter(query(
                "limit",
                "Items per page (default 1000, at most 10000)",
                Type::Integer,
            ))
            .parameter(query("offset", "Items to skip", Type::Integer));
    }
    for (name, description, kind) in &route.queries {
        builder = builder.parameter(
            ParameterBuilder::new()
                .name(*name)
                .parameter_in(ParameterIn::Query)
                .required(Required::False)
                .description(Some(*description))
                .schema(Some(ObjectBuilder::new().schema_type(kind.clone()))),
        );
    }
    if let Some(schema) = route.request {
        builder = builder.request_body(Some(
            RequestBodyBuilder::new()
                .required(Some(Required::True))
                .content("application/json", json_content(schema_ref(schema)))
                .build(),
        ));
    }
    let success = match &route.success {
        Success::One(status, schema) => (
            status.to_string(),
            ResponseBuilder::new()
                .description("Success")
                .content("application/json", json_content(schema_ref(schema)))
                .build(),
        ),
        Success::Items(schema) => {
            let list = ObjectBuilder::new()
                .property("site", ObjectBuilder::new().schema_type(Type::String))
                .property("items", ArrayBuilder::new().items(schema_ref(schema)))
                .required("site")
                .required("items");
            (
                "200".to_owned(),
                ResponseBuilder::new()
                    .description("The site's items")
                    .content(
                        "application/json",
                        json_content(RefOr::T(Schema::Object(list.build()))),
                    )
                    .build(),
            )
        }
        Success::NoContent => (
            "204".to_owned(),
            ResponseBuilder::new().description("Done").build(),
        ),
        Success::Accepted => (
            "202".to_owned(),
            ResponseBuilder::new()
                .description("Accepted: the site finishes it by itself")
                .build(),
        ),
        Success::Bytes => (
            "200".to_owned(),
            ResponseBuilder::new()
                .description("The data")
                .content("application/octet-stream", ContentBuilder::new().build())
                .build(),
        ),
        Success::AnyJson => (
            "200".to_owned(),
            ResponseBuilder::new()
                .description("A JSON document")
                .content("application/json", ContentBuilder::new().build())
                .build(),
        ),
        Success::Lines => (
            "200".to_owned(),
            ResponseBuilder::new()
                .description("One JSON object per line")
                .content("application/x-ndjson", ContentBuilder::new().build())
                .build(),
        ),
        Success::Events => (
            "200".to_owned(),
            ResponseBuilder::new()
                .description("An event stream")
                .content("text/event-stream", ContentBuilder::new().build())
                .build(),
        ),
        Success::Prometheus => (
            "200".to_owned(),
            ResponseBuilder::new()
                .description("Metrics in the Prometheus text exposition format, version 0.0.4")
                .content("text/plain", ContentBuilder::new().build())
                .build(),
        ),
    };
    let error = |description: &str| {
        ResponseBuilder::new()
            .description(description)
            .content("application/json", json_content(schema_ref("ErrorBody")))
            .build()
    };
    let mut responses = ResponsesBuilder::new()
        .response(success.0, success.1)
        .response("400", error("Invalid input, with the fields at fault"));
    if let Some((status, schema, description)) = route.also {
        responses = responses.response(
            status.to_string(),
            ResponseBuilder::new()
                .description(description)
                .content("application/json", json_content(schema_ref(schema)))
                .build(),
        );
    }
    if route.authenticated {
        responses = responses
            .response("401", error("Missing or invalid bearer token"))
            .response(
                "403",
                error("The caller's role or site scope does not allow this"),
            );
        builder = builder.security(SecurityRequirement::new("bearer", Vec::<String>::new()));
    }
    if matches!(route.method, "post" | "put" | "patch") {
        responses = responses
            .response("413", error("The body is larger than the endpoint accepts"))
            .response(
                "415",
                error("The body's Content-Type is not the one the endpoint takes"),
            );
    }
    if route.path == "/api/v1/auth/login" {
        responses = responses
            .response("401", error("Wrong username or password"))
            .response(
                "429",
                error("Too many failed sign-ins: locked out for a while"),
            )
            .response(
                "503",
                error("Too many sign-ins are being checked at once: try again shortly"),
            );
    }
    if route.authenticated {
        responses = responses
            .response(
                "404",
                error("No such object or site, or not within the caller's scope"),
            )
            .response(
                "504",
                error("The request took longer than the console's deadline"),
            );
        if route.method != "get" {
            responses = responses.response(
                "409",
                error("It exists already, or its state does not allow this now"),
            );
        }
    }
    if route.path.contains("{site}") {
        responses = responses
            .response(
                "404",
                error("No such site, resource or service at the site"),
            )
            .response(
                "502",
                error("The site refused the console's credentials or answered badly"),
            )
            .response(
                "503",
                error("The site is unreachable or did not answer in time"),
            );
    }
    builder.responses(responses.build()).build()
}

fn paths() -> Paths {
    let mut items: std::collections::BTreeMap<&str, PathItem> = std::collections::BTreeMap::new();
    for route in routes() {
        let item = items.entry(route.path).or_default();
        let op = Some(operation(&route));
        match route.method {
            "get" => item.get = op,
            "post" => item.post = op,
            "put" => item.put = op,
            "patch" => item.patch = op,
            _ => item.delete = op,
        }
    }
    items
        .into_iter()
        .fold(PathsBuilder::new(), |paths, (path, item)| {
            paths.path(path, item)
        })
        .build()
}

pub fn document() -> &'static OpenApi {
    static DOCUMENT: OnceLock<OpenApi> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let mut doc = Components::openapi();
        doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
        doc.paths = paths();
        if let Some(components) = doc.components.as_mut() {
            components.add_security_scheme(
                "bearer",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .bearer_format("JWT")
                        .build(),
                ),
            );
        }
        doc
    })
}

pub async fn serve() -> Response {
    match serde_json::to_string(document()) {
        Ok(json) => ([(header::CONTENT_TYPE, "application/json")], json).into_response(),
        Err(error) => {
            super::ApiError::Internal(format!("cannot render the OpenAPI document: {error}"))
                .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_l1_resource_is_documented_with_its_schemas() {
        let doc = serde_json::to_value(document()).unwrap_or_default();
        for resource in Resource::ALL {
            let (segment, item, _) = l1_schemas(resource);
            assert_eq!(
                segment.parse::<Resource>().ok(),
                Some(resource),
                "the path segment routes to the resource"
            );
            assert!(
                doc["paths"][format!("/api/v1/sites/{{site}}/{segment}")]["get"].is_object(),
                "{segment}"
            );
            assert!(
                doc["components"]["schemas"][item].is_object(),
                "schema {item}"
            );
        }
        // Every schema a path refers to exists.
        let text = doc.to_string();
        for reference in text.split("\"#/components/schemas/").skip(1) {
            let name = reference.split('"').next().unwrap_or_default();
            assert!(
                doc["components"]["schemas"][name].is_object(),
                "dangling $ref {name}"
            );
        }
    }
}

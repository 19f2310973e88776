use overcast_api_types::l1::{
    NewProject, NewRoleAssignment, NewUser, Project, RoleAssignment, User,
};
use reqwest::Method;
use serde_json::{json, Value};

use super::SiteOps;
use super::{array, is_not_found, object, segment, text, ResourceError, Result};
use crate::openstack::ServiceType::Identity;

fn project(value: &Value) -> Project {
    Project {
        id: text(value, "id").unwrap_or_default(),
        name: text(value, "name").unwrap_or_default(),
        description: text(value, "description").unwrap_or_default(),
        enabled: value
            .get("enabled")
            .and_then(Value::as_bool)
            .unwrap_or(true),
        domain_id: text(value, "domain_id").unwrap_or_default(),
    }
}

fn user(value: &Value) -> User {
    User {
        id: text(value, "id").unwrap_or_default(),
        name: text(value, "name").unwrap_or_default(),
        enabled: value
            .get("enabled")
            .and_then(Value::as_bool)
            .unwrap_or(true),
        domain_id: text(value, "domain_id").unwrap_or_default(),
        default_project_id: text(value, "default_project_id"),
    }
}

/// The identity endpoint is `…/v3` in every catalog Overcast has met; paths here are relative to it.
/// The id L1 gives a role assignment, which `revoke_role` takes apart.
fn assignment_id(project_id: &str, user_id: &str, role_id: &str) -> String {
    format!("{project_id}:{user_id}:{role_id}")
}

impl SiteOps {
    pub async fn projects(&self) -> Result<Vec<Project>> {
        let body: Value = self.get(Identity, "projects").await?;
        Ok(array(&body, "projects", "identity")?
            .iter()
            .map(project)
            .collect())
    }

    pub async fn project(&self, id: &str) -> Result<Project> {
        let body: Value = self
            .get(Identity, &format!("projects/{}", segment(id)))
            .await?;
        Ok(project(object(&body, "project", "identity")?))
    }

    /// A project by id, or else by its unique name.
    pub async fn find_project(&self, wanted: &str) -> Result<Project> {
        match self.project(wanted).await {
            Err(e) if is_not_found(&e) => {}
            other => return other,
        }
        let body: Value = self
            .get(Identity, &format!("projects?name={}", segment(wanted)))
            .await?;
        match array(&body, "projects", "identity")?.as_slice() {
            [one] => Ok(project(one)),
            _ => Err(ResourceError::NotFound(format!(
                "no project {wanted:?} on site {}",
                self.site
            ))),
        }
    }

    pub async fn create_project(&self, new: &NewProject) -> Result<Project> {
        if new.name.trim().is_empty() || new.name.len() > 64 {
            return Err(ResourceError::invalid("name", "must be 1-64 characters"));
        }
        let body = json!({"project": {"name": new.name, "description": new.description, "domain_id": "default", "enabled": true}});
        let created = self
            .send(Identity, Method::POST, "projects", Some(&body))
            .await?;
        Ok(project(object(&created, "project", "identity")?))
    }

    pub async fn delete_project(&self, id: &str) -> Result<()> {
        self.send(
            Identity,
            Method::DELETE,
            &format!("projects/{}", segment(id)),
            None,
        )
        .await?;
        Ok(())
    }

    pub async fn users(&self) -> Result<Vec<User>> {
        let body: Value = self.get(Identity, "users").await?;
        Ok(array(&body, "users", "identity")?
            .iter()
            .map(user)
            .collect())
    }

    pub async fn user(&self, id: &str) -> Result<User> {
        let body: Value = self
            .get(Identity, &format!("users/{}", segment(id)))
            .await?;
        Ok(user(object(&body, "user", "identity")?))
    }

    /// A user by id or, as Keystone does not look names up, by its unique name.
    pub async fn find_user(&self, wanted: &str) -> Result<User> {
        match self.user(wanted).await {
            Err(e) if is_not_found(&e) => {}
            other => return other,
        }
        let body: Value = self
            .get(Identity, &format!("users?name={}", segment(wanted)))
            .await?;
        match array(&body, "users", "identity")?.as_slice() {
            [one] => Ok(user(one)),
            _ => Err(ResourceError::NotFound(format!(
                "no user {wanted:?} on site {}",
                self.site
            ))),
        }
    }

    pub async fn create_user(&self, new: &NewUser) -> Result<User> {
        if new.name.trim().is_empty() || new.name.len() > 64 {
            return Err(ResourceError::invalid("name", "must be 1-64 characters"));
        }
        if new.password.is_empty() {
            return Err(ResourceError::invalid("password", "must not be empty"));
        }
        let mut body = json!({"user": {"name": new.name, "password": new.password, "domain_id": "default", "enabled": true}});
        if let Some(wanted) = &new.default_project {
            body["user"]["default_project_id"] = json!(self.find_project(wanted).await?.id);
        }
        let created = self
            .send(Identity, Method::POST, "users", Some(&body))
            .await?;
        Ok(user(object(&created, "user", "identity")?))
    }

    pub async fn delete_user(&self, id: &str) -> Result<()> {
        self.send(
            Identity,
            Method::DELETE,
            &format!("users/{}", segment(id)),
            None,
        )
        .await?;
        Ok(())
    }

    pub async fn role_assignments(&self) -> Result<Vec<RoleAssignment>> {
        let body: Value = self
            .get(Identity, "role_assignments?include_names=true")
            .await?;
        Ok(array(&body, "role_assignments", "identity")?
            .iter()
            // Domain and group assignments exist on real clouds; L1 shows user-on-project ones.
            .filter(|a| a["scope"]["project"].is_object() && a["user"].is_object())
            .map(|a| {
                let (project_id, user_id, role_id) = (
                    text(&a["scope"]["project"], "id").unwrap_or_default(),
                    text(&a["user"], "id").unwrap_or_default(),
                    text(&a["role"], "id").unwrap_or_default(),
                );
                RoleAssignment {
                    id: assignment_id(&project_id, &user_id, &role_id),
                    user_name: text(&a["user"], "name"),
                    project_name: text(&a["scope"]["project"], "name"),
                    role_name: text(&a["role"], "name"),
                    user_id,
                    project_id,
                    role_id,
                }
            })
            .collect())
    }

    async fn find_role(&self, wanted: &str) -> Result<(String, String)> {
        let body: Value = self.get(Identity, "roles").await?;
        array(&body, "roles", "identity")?
            .iter()
            .find(|r| {
                text(r, "id").as_deref() == Some(wanted)
                    || text(r, "name").as_deref() == Some(wanted)
            })
            .map(|r| {
                (
                    text(r, "id").unwrap_or_default(),
                    text(r, "name").unwrap_or_default(),
                )
            })
            .ok_or_else(|| {
                ResourceError::invalid("role", format!("no role {wanted:?} on site {}", self.site))
            })
    }

    /// Grants a role; users, projects and roles may be named by id or name.
    pub async fn grant_role(&self, new: &NewRoleAssignment) -> Result<RoleAssignment> {
        let user = self.find_user(&new.user).await.map_err(|e| match e {
            ResourceError::NotFound(m) => ResourceError::invalid("user", m),
            other => other,
        })?;
        let project = self.find_project(&new.project).await.map_err(|e| match e {
            ResourceError::NotFound(m) => ResourceError::invalid("project", m),
            other => other,
        })?;
        let (role_id, role_name) = self.find_role(&new.role).await?;
        let path = format!(
            "projects/{}/users/{}/roles/{}",
            segment(&project.id),
            segment(&user.id),
            segment(&role_id)
        );
        self.send(Identity, Method::PUT, &path, None).await?;
        Ok(RoleAssignment {
            id: assignment_id(&project.id, &user.id, &role_id),
            user_id: user.id,
            user_name: Some(user.name),
            project_id: project.id,
            project_name: Some(project.name),
            role_id,
            role_name: Some(role_name),
        })
    }

    /// Revokes a role given as `project_id:user_id:role_id`, the id L1 shows
    /// (Keystone's assignments have no id of their own).
    pub async fn revoke_role(&self, id: &str) -> Result<()> {
        let parts: Vec<&str> = id.split(':').collect();
        let [project, user, role] = parts.as_slice() else {
            return Err(ResourceError::invalid(
                "id",
                "a role assignment id is project_id:user_id:role_id",
            ));
        };
        let path = format!(
            "projects/{}/users/{}/roles/{}",
            segment(project),
            segment(user),
            segment(role)
        );
        self.send(Identity, Method::DELETE, &path, None).await?;
        Ok(())
    }
}

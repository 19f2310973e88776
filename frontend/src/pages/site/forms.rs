//! The create forms of a site's tabs: one description per kind (its fields and how they
//! become the API's typed body), one form component for all, and the server form, whose
//! network choices depend on what the site can do.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use leptos::prelude::*;
use overcast_api_types::l1::{
    Items, NetworkAttachment, NetworkMode, NewFlavor, NewImage, NewKeypair, NewNetwork, NewProject,
    NewServer, NewSubnet, NewUser, NewVolume, ServerNetworks, AUTO_ALLOCATION,
};
use overcast_api_types::Site;
use serde_json::Value;

use crate::api::{self, ApiError};

/// How a kind is created from its tab.
#[derive(Clone, Copy)]
pub enum Create {
    Server,
    Form(&'static Form),
}

/// The form of `create`, closed by `done` (after a create, or on Cancel).
pub fn form(create: Create, site: String, done: Callback<()>) -> AnyView {
    match create {
        Create::Server => view! { <CreateServer site done/> }.into_any(),
        Create::Form(form) => view! { <CreateForm site form done/> }.into_any(),
    }
}

#[derive(Clone, Copy)]
pub enum Input {
    Text,
    Secret,
    Number,
    LongText,
    Check,
    /// Fixed choices (value, text); the first is the default.
    Choice(&'static [(&'static str, &'static str)]),
    /// One of the site's items of a kind (by id, shown by name), or none.
    Pick(&'static str),
    /// A file sent after the create call (an image's data).
    File,
}

pub struct Field {
    pub id: &'static str,
    pub label: &'static str,
    pub input: Input,
    pub required: bool,
    pub default: &'static str,
    pub placeholder: &'static str,
}

const fn field(id: &'static str, label: &'static str, input: Input) -> Field {
    Field {
        id,
        label,
        input,
        required: false,
        default: "",
        placeholder: "",
    }
}

const fn required(id: &'static str, label: &'static str, input: Input) -> Field {
    Field {
        required: true,
        ..field(id, label, input)
    }
}

/// A follow-up call once the object exists: image data, a network's subnet.
type Then = fn(String, Value, Values) -> Pin<Box<dyn Future<Output = Result<(), ApiError>>>>;

pub struct Form {
    /// `a volume`, for the heading.
    pub what: &'static str,
    pub segment: &'static str,
    pub fields: &'static [Field],
    /// The API's body from what was typed, or what is wrong with it.
    pub build: fn(&Values) -> Result<Value, String>,
    pub then: Option<Then>,
}

/// What was typed into a form.
pub struct Values {
    fields: BTreeMap<&'static str, String>,
    file: Option<web_sys::File>,
}

impl Values {
    fn text(&self, id: &str) -> String {
        self.fields
            .get(id)
            .map(|v| v.trim().to_owned())
            .unwrap_or_default()
    }

    fn optional(&self, id: &str) -> Option<String> {
        Some(self.text(id)).filter(|v| !v.is_empty())
    }

    fn checked(&self, id: &str) -> bool {
        self.text(id) == "true"
    }

    fn number(&self, id: &str, label: &str) -> Result<u64, String> {
        self.text(id)
            .parse()
            .map_err(|_| format!("{label} must be a whole number"))
    }

    fn optional_number(&self, id: &str, label: &str) -> Result<Option<u64>, String> {
        match self.optional(id) {
            None => Ok(None),
            Some(_) => self.number(id, label).map(Some),
        }
    }
}

fn body<T: serde::Serialize>(value: T) -> Result<Value, String> {
    serde_json::to_value(value).map_err(|e| e.to_string())
}

pub static VOLUME: Form = Form {
    what: "a volume",
    segment: "volumes",
    fields: &[
        required("name", "Name", Input::Text),
        Field {
            default: "1",
            ..required("size", "Size (GB)", Input::Number)
        },
        field("image", "From image", Input::Pick("images")),
    ],
    build: |v| {
        body(NewVolume {
            name: v.text("name"),
            size_gb: v.number("size", "Size")?,
            image_id: v.optional("image"),
        })
    },
    then: None,
};

pub static KEYPAIR: Form = Form {
    what: "a key pair",
    segment: "keypairs",
    fields: &[
        required("name", "Name", Input::Text),
        Field {
            placeholder: "ssh-ed25519 AAAA… comment",
            ..required("public-key", "Public key", Input::LongText)
        },
    ],
    build: |v| {
        body(NewKeypair {
            name: v.text("name"),
            public_key: v.text("public-key"),
        })
    },
    then: None,
};

pub static FLAVOR: Form = Form {
    what: "a flavor",
    segment: "flavors",
    fields: &[
        required("name", "Name", Input::Text),
        Field {
            default: "1",
            ..required("vcpus", "vCPUs", Input::Number)
        },
        Field {
            default: "512",
            ..required("ram", "RAM (MB)", Input::Number)
        },
        Field {
            default: "1",
            ..required("disk", "Disk (GB)", Input::Number)
        },
        Field {
            default: "true",
            ..field("public", "Public", Input::Check)
        },
    ],
    build: |v| {
        body(NewFlavor {
            name: v.text("name"),
            vcpus: v.number("vcpus", "vCPUs")? as u32,
            ram_mb: v.number("ram", "RAM")?,
            disk_gb: v.number("disk", "Disk")?,
            id: None,
            is_public: v.checked("public"),
        })
    },
    then: None,
};

pub static IMAGE: Form = Form {
    what: "an image",
    segment: "images",
    fields: &[
        required("name", "Name", Input::Text),
        field(
            "disk-format",
            "Disk format",
            Input::Choice(&[
                ("qcow2", "qcow2"),
                ("raw", "raw"),
                ("iso", "iso"),
                ("vmdk", "vmdk"),
                ("vdi", "vdi"),
                ("vhd", "vhd"),
            ]),
        ),
        field(
            "visibility",
            "Visibility",
            Input::Choice(&[
                ("private", "private"),
                ("shared", "shared"),
                ("community", "community"),
                ("public", "public"),
            ]),
        ),
        field("data", "Data (optional)", Input::File),
    ],
    build: |v| {
        body(NewImage {
            name: v.text("name"),
            disk_format: v.text("disk-format"),
            container_format: "bare".into(),
            visibility: v.optional("visibility"),
        })
    },
    then: Some(|site, created, values| {
        Box::pin(async move {
            let (Some(file), Some(id)) = (values.file, created["id"].as_str()) else {
                return Ok(());
            };
            let path = format!(
                "/sites/{}/images/{}/file",
                api::encode_query(&site),
                api::encode_query(id)
            );
            api::put_file(&path, file).await
        })
    }),
};

pub static NETWORK: Form = Form {
    what: "a network",
    segment: "networks",
    fields: &[
        required("name", "Name", Input::Text),
        field(
            "type",
            "Network type",
            Input::Choice(&[
                ("", "The site's default (a project network)"),
                ("flat", "flat (provider)"),
                ("vlan", "vlan (provider)"),
                ("vxlan", "vxlan"),
                ("geneve", "geneve"),
            ]),
        ),
        Field {
            placeholder: "physnet1",
            ..field("physical", "Physical network", Input::Text)
        },
        field("segment", "Segmentation id", Input::Number),
        Field {
            placeholder: "10.0.0.0/24",
            ..field("cidr", "Subnet (CIDR, optional)", Input::Text)
        },
        field("shared", "Shared with every project", Input::Check),
    ],
    build: |v| {
        body(NewNetwork {
            name: v.text("name"),
            shared: v.checked("shared"),
            network_type: v.optional("type"),
            physical_network: v.optional("physical"),
            segmentation_id: v.optional_number("segment", "Segmentation id")?,
            ..Default::default()
        })
    },
    then: Some(|site, created, values| {
        Box::pin(async move {
            let (Some(cidr), Some(id)) = (values.optional("cidr"), created["id"].as_str()) else {
                return Ok(());
            };
            let subnet = NewSubnet {
                name: format!("{}-subnet", values.text("name")),
                network_id: id.to_owned(),
                cidr,
                gateway_ip: None,
            };
            let path = format!("/sites/{}/subnets", api::encode_query(&site));
            api::send::<_, Value>("POST", &path, &subnet)
                .await
                .map(|_| ())
        })
    }),
};

pub static PROJECT: Form = Form {
    what: "a project",
    segment: "projects",
    fields: &[
        required("name", "Name", Input::Text),
        field("description", "Description", Input::Text),
    ],
    build: |v| {
        body(NewProject {
            name: v.text("name"),
            description: v.text("description"),
        })
    },
    then: None,
};

pub static USER: Form = Form {
    what: "a user",
    segment: "users",
    fields: &[
        required("name", "Name", Input::Text),
        required("password", "Password", Input::Secret),
        field("project", "Default project", Input::Pick("projects")),
    ],
    build: |v| {
        body(NewUser {
            name: v.text("name"),
            password: v.text("password"),
            default_project: v.optional("project"),
        })
    },
    then: None,
};

/// A site's items of a kind as choices: (id, name). Key pairs are known by name.
async fn choices(site: &str, segment: &str) -> Result<Vec<(String, String)>, ApiError> {
    let path = format!("/sites/{}/{segment}", api::encode_query(site));
    let list = api::get::<Items<Value>>(&path).await?;
    Ok(list
        .items
        .iter()
        .map(|item| {
            let name = item["name"].as_str().unwrap_or_default().to_owned();
            let id = item["id"]
                .as_str()
                .map_or_else(|| name.clone(), str::to_owned);
            let text = if name.is_empty() { id.clone() } else { name };
            (id, text)
        })
        .collect())
}

#[component]
fn CreateForm(site: String, form: &'static Form, done: Callback<()>) -> impl IntoView {
    let values: Vec<RwSignal<String>> = form
        .fields
        .iter()
        .map(|f| RwSignal::new(f.default.to_owned()))
        .collect();
    let file = StoredValue::new_local(None::<web_sys::File>);
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let heading = format!("create-{}-title", form.segment);
    let heading_ref = heading.clone();
    let submit = {
        let site = site.clone();
        let values = values.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            let typed = Values {
                fields: form
                    .fields
                    .iter()
                    .zip(&values)
                    .map(|(f, v)| (f.id, v.get_untracked()))
                    .collect(),
                file: file.get_value(),
            };
            let request = match (form.build)(&typed) {
                Ok(request) => request,
                Err(message) => return error.set(Some(message)),
            };
            let site = site.clone();
            let path = format!("/sites/{}/{}", api::encode_query(&site), form.segment);
            busy.set(true);
            let call = async move {
                let created = api::send::<_, Value>("POST", &path, &request).await;
                let outcome = match (created, form.then) {
                    (Ok(created), Some(then)) => then(site, created, typed).await,
                    (created, _) => created.map(|_| ()),
                };
                busy.set(false);
                outcome
            };
            api::spawn_call(call, error, move |()| done.run(()));
        }
    };
    let inputs = form
        .fields
        .iter()
        .zip(values)
        .map(|(f, value)| {
            let id = format!("{}-{}", form.segment, f.id);
            let label = view! { <label for=id.clone()>{f.label}</label> };
            match f.input {
                Input::Check => view! {
                    <div class="field checkbox">
                        <input id=id type="checkbox" prop:checked=move || value.get() == "true"
                            on:change=move |ev| value.set(event_target_checked(&ev).to_string())/>
                        {label}
                    </div>
                }
                .into_any(),
                Input::LongText => view! {
                    <div class="field wide">
                        {label}
                        <textarea id=id rows="3" required=f.required placeholder=f.placeholder
                            prop:value=value on:input=move |ev| value.set(event_target_value(&ev))></textarea>
                    </div>
                }
                .into_any(),
                Input::Choice(options) => {
                    if value.get_untracked().is_empty() {
                        value.set(options[0].0.to_owned());
                    }
                    view! {
                        <div class="field">
                            {label}
                            <select id=id prop:value=value on:change=move |ev| value.set(event_target_value(&ev))>
                                {options.iter().map(|(v, text)| view! { <option value=*v>{*text}</option> }).collect_view()}
                            </select>
                        </div>
                    }
                    .into_any()
                }
                Input::Pick(segment) => {
                    let site = site.clone();
                    let options = LocalResource::new(move || {
                        let site = site.clone();
                        async move { choices(&site, segment).await }
                    });
                    let optional = !f.required;
                    view! {
                        <div class="field">
                            {label}
                            <select id=id prop:value=value on:change=move |ev| value.set(event_target_value(&ev))>
                                {optional.then(|| view! { <option value="">"(none)"</option> })}
                                {move || options.get().map(|answer| {
                                    let list = answer.unwrap_or_default();
                                    if !optional && value.get_untracked().is_empty() {
                                        if let Some((first, _)) = list.first() {
                                            value.set(first.clone());
                                        }
                                    }
                                    list.into_iter().map(|(id, text)| view! { <option value=id>{text}</option> }).collect_view()
                                })}
                            </select>
                        </div>
                    }
                    .into_any()
                }
                Input::File => view! {
                    <div class="field">
                        {label}
                        <input id=id type="file" on:change=move |ev: leptos::ev::Event| {
                            use wasm_bindgen::JsCast;
                            let chosen = ev
                                .target()
                                .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
                                .and_then(|input| input.files())
                                .and_then(|files| files.get(0));
                            file.set_value(chosen);
                        }/>
                    </div>
                }
                .into_any(),
                Input::Text | Input::Secret | Input::Number => {
                    let kind = match f.input {
                        Input::Secret => "password",
                        Input::Number => "number",
                        _ => "text",
                    };
                    view! {
                        <div class="field">
                            {label}
                            <input id=id type=kind required=f.required placeholder=f.placeholder min=(kind == "number").then_some("0")
                                prop:value=value on:input=move |ev| value.set(event_target_value(&ev))/>
                        </div>
                    }
                    .into_any()
                }
            }
        })
        .collect_view();
    view! {
        <form class="card form" on:submit=submit aria-labelledby=heading_ref>
            <h2 id=heading>{format!("Create {} on {site}", form.what)}</h2>
            <div class="grid-form">{inputs}</div>
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            <div class="actions">
                <button type="submit" disabled=move || busy.get()>{move || if busy.get() { "Creating…" } else { "Create" }}</button>
                <button type="button" class="secondary" on:click=move |_| done.run(())>"Cancel"</button>
            </div>
        </form>
    }
}

/// Nova's networks for the form's choice: `auto`, `none` or a network's id.
fn network_choice(choice: &str) -> Option<ServerNetworks> {
    match choice {
        "" => None,
        "auto" => Some(ServerNetworks::Mode(NetworkMode::Auto)),
        "none" => Some(ServerNetworks::Mode(NetworkMode::None)),
        id => Some(ServerNetworks::Attach(vec![NetworkAttachment {
            network: Some(id.to_owned()),
            port: None,
            fixed_ip: None,
        }])),
    }
}

/// Boot a server on this site from its own flavors, images, networks and key pairs.
#[component]
fn CreateServer(site: String, done: Callback<()>) -> impl IntoView {
    let base = format!("/sites/{}", api::encode_query(&site));
    let loaded = {
        let site = site.clone();
        let base = base.clone();
        LocalResource::new(move || {
            let (site, base) = (site.clone(), base.clone());
            async move {
                let flavors = choices(&site, "flavors").await?;
                let images = choices(&site, "images").await?;
                let keypairs = choices(&site, "keypairs").await.unwrap_or_default();
                // What the site can do decides the choices: "auto" only where its
                // Neutron allocates networks by itself (Nova answers 500 elsewhere).
                let described = api::get::<Site>(&base).await?;
                let automatic = described.capabilities.get("network").map(String::as_str)
                    == Some(AUTO_ALLOCATION);
                let mut networks: Vec<(String, String)> = automatic
                    .then(|| ("auto".to_owned(), "Allocated by the site".to_owned()))
                    .into_iter()
                    .collect();
                networks.extend(choices(&site, "networks").await?);
                networks.push(("none".to_owned(), "No network".to_owned()));
                Ok::<_, ApiError>((flavors, images, networks, keypairs))
            }
        })
    };
    let name = RwSignal::new(String::new());
    let flavor = RwSignal::new(String::new());
    let image = RwSignal::new(String::new());
    let network = RwSignal::new(String::new());
    let keypair = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let server = NewServer {
            name: name.get_untracked().trim().to_owned(),
            flavor: flavor.get_untracked(),
            image: image.get_untracked(),
            networks: network_choice(&network.get_untracked()),
            key_name: Some(keypair.get_untracked()).filter(|k| !k.is_empty()),
            metadata: Default::default(),
        };
        let path = format!("{base}/servers");
        busy.set(true);
        let call = async move {
            let created = api::send::<_, Value>("POST", &path, &server).await;
            busy.set(false);
            created
        };
        api::spawn_call(call, error, move |_| done.run(()));
    };
    let select = move |id: &'static str,
                       label: &'static str,
                       value: RwSignal<String>,
                       options: Vec<(String, String)>,
                       optional: bool| {
        if !optional && value.get_untracked().is_empty() {
            if let Some((first, _)) = options.first() {
                value.set(first.clone());
            }
        }
        view! {
            <div class="field">
                <label for=id>{label}</label>
                <select id=id prop:value=value on:change=move |ev| value.set(event_target_value(&ev))>
                    {optional.then(|| view! { <option value="">"(none)"</option> })}
                    {options.into_iter().map(|(id, text)| view! { <option value=id>{text}</option> }).collect_view()}
                </select>
            </div>
        }
    };
    view! {
        <form class="card form" on:submit=submit aria-labelledby="create-server-title">
            <h2 id="create-server-title">{format!("Create a server on {site}")}</h2>
            <Transition fallback=|| view! { <p class="muted">"Reading flavors, images and networks…"</p> }>
                {move || loaded.get().map(|answer| match answer {
                    Err(e) => view! { <p class="error" role="alert">{e.message}</p> }.into_any(),
                    Ok((flavors, images, networks, keypairs)) => view! {
                        <div class="grid-form">
                            <div class="field">
                                <label for="server-name">"Name"</label>
                                <input id="server-name" required prop:value=name on:input=move |ev| name.set(event_target_value(&ev))/>
                            </div>
                            {select("server-flavor", "Flavor", flavor, flavors, false)}
                            {select("server-image", "Image", image, images, false)}
                            {select("server-network", "Network", network, networks, false)}
                            {select("server-keypair", "Key pair", keypair, keypairs, true)}
                        </div>
                    }.into_any(),
                })}
            </Transition>
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            <div class="actions">
                <button type="submit" disabled=move || busy.get()>{move || if busy.get() { "Creating…" } else { "Create" }}</button>
                <button type="button" class="secondary" on:click=move |_| done.run(())>"Cancel"</button>
            </div>
        </form>
    }
}

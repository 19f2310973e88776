-- Replication policies: "this content must be on every site the targets select".
-- `image` is the policy's image as given (a site's image or a sha512), `sha512` the
-- content it stands for; `targets` the site selection, as jobs take it (JSON).
CREATE TABLE image_policies (
    id          TEXT PRIMARY KEY,
    image       TEXT NOT NULL,
    sha512      TEXT NOT NULL,
    targets     TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

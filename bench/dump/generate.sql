-- An Immich-shaped database for bench/dump/run.sh: the tables that dominate a real Immich dump,
-- with Immich's column names and types (v2.x), filled with generate_series. Sizes per asset are
-- close to a real library: one assets row, one asset_exif row (with the raw tag jsonb), two
-- asset_files rows (thumbnail and preview) and one 512-dimension CLIP embedding (Immich stores
-- `vector(512)` through VectorChord; plain PostgreSQL has real[], which dumps as the same text).
--
--   psql -v schema=1 -f generate.sql
--   psql -v assets=600000 -v part=0 -v parts=1 -f generate.sql    (run.sh runs parts in parallel)
--   psql -v indexes=1 -f generate.sql
--
-- First `-v schema=1` (tables), then each part fills its share of ids, then `-v indexes=1`.

\set ON_ERROR_STOP on
\if :{?schema}
CREATE TABLE users (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email varchar NOT NULL UNIQUE,
    name varchar NOT NULL,
    "createdAt" timestamptz NOT NULL DEFAULT now(),
    "storageLabel" varchar UNIQUE,
    "quotaUsageInBytes" bigint NOT NULL DEFAULT 0
);
INSERT INTO users (id, email, name, "storageLabel")
SELECT ('00000000-0000-4000-8000-' || lpad(u::text, 12, '0'))::uuid, 'user' || u || '@family.example', 'User ' || u, 'user' || u
FROM generate_series(1, 5) u;

CREATE TABLE assets (
    id uuid PRIMARY KEY,
    "deviceAssetId" varchar NOT NULL,
    "ownerId" uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    "deviceId" varchar NOT NULL,
    type varchar NOT NULL,
    "originalPath" varchar NOT NULL,
    "fileCreatedAt" timestamptz NOT NULL,
    "fileModifiedAt" timestamptz NOT NULL,
    "isFavorite" boolean NOT NULL DEFAULT false,
    duration varchar,
    "encodedVideoPath" varchar DEFAULT '',
    checksum bytea NOT NULL,
    "livePhotoVideoId" uuid,
    "updatedAt" timestamptz NOT NULL DEFAULT now(),
    "createdAt" timestamptz NOT NULL DEFAULT now(),
    "originalFileName" varchar NOT NULL,
    thumbhash bytea,
    "localDateTime" timestamptz NOT NULL,
    "deletedAt" timestamptz,
    visibility varchar NOT NULL DEFAULT 'timeline',
    "checksumAlgorithm" varchar NOT NULL DEFAULT 'sha1'
);
CREATE TABLE asset_exif (
    "assetId" uuid PRIMARY KEY REFERENCES assets (id) ON DELETE CASCADE,
    make varchar,
    model varchar,
    "exifImageWidth" integer,
    "exifImageHeight" integer,
    "fileSizeInByte" bigint,
    orientation varchar,
    "dateTimeOriginal" timestamptz,
    "modifyDate" timestamptz,
    "lensModel" varchar,
    "fNumber" double precision,
    "focalLength" double precision,
    iso integer,
    "exposureTime" varchar,
    latitude double precision,
    longitude double precision,
    city varchar,
    state varchar,
    country varchar,
    description text NOT NULL DEFAULT '',
    "timeZone" varchar,
    tags jsonb
);
CREATE TABLE asset_files (
    id uuid PRIMARY KEY,
    "assetId" uuid NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    type varchar NOT NULL,
    path varchar NOT NULL,
    "createdAt" timestamptz NOT NULL DEFAULT now(),
    "updatedAt" timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE smart_search (
    "assetId" uuid PRIMARY KEY REFERENCES assets (id) ON DELETE CASCADE,
    embedding real[] NOT NULL
);
\elif :{?indexes}
CREATE UNIQUE INDEX "UQ_assets_owner_checksum" ON assets ("ownerId", checksum);
CREATE INDEX "IDX_assets_ownerId_localDateTime" ON assets ("ownerId", "localDateTime");
CREATE INDEX "IDX_assets_fileCreatedAt" ON assets ("fileCreatedAt");
CREATE INDEX "IDX_asset_exif_city" ON asset_exif (city);
CREATE UNIQUE INDEX "UQ_asset_files_assetId_type" ON asset_files ("assetId", type);
ANALYZE;
\else
-- One part: ids i with i % parts = part.
BEGIN;
INSERT INTO assets
SELECT md5('asset' || i)::uuid,
       'IMG_' || i || '.HEIC-' || (1700000000000 + i::bigint * 7919),
       ('00000000-0000-4000-8000-' || lpad((1 + i % 5)::text, 12, '0'))::uuid,
       'iphone-' || (i % 5),
       CASE WHEN i % 20 = 0 THEN 'VIDEO' ELSE 'IMAGE' END,
       '/data/library/user' || (1 + i % 5) || '/' || (2010 + i % 16) || '/' || lpad((1 + i % 12)::text, 2, '0') ||
           '/IMG_' || i || CASE WHEN i % 20 = 0 THEN '.MOV' ELSE '.HEIC' END,
       t, t + interval '3 seconds', i % 50 = 0,
       CASE WHEN i % 20 = 0 THEN '00:00:' || lpad((i % 60)::text, 2, '0') || '.000000' END,
       CASE WHEN i % 20 = 0 THEN '/data/encoded-video/user' || (1 + i % 5) || '/' || md5('asset' || i) || '.mp4' ELSE '' END,
       sha256(int8send(i)),
       NULL, t + interval '1 day', t + interval '1 day',
       'IMG_' || i || CASE WHEN i % 20 = 0 THEN '.MOV' ELSE '.HEIC' END,
       substring(sha512(int8send(i)) FROM 1 FOR 25),
       t + interval '1 hour', NULL, 'timeline', 'sha1'
FROM (SELECT i, timestamptz '2010-01-01 00:00:00+00' + i * interval '7 minutes 13 seconds' AS t
      FROM generate_series(:part + 1, :assets, :parts) i) g;

INSERT INTO asset_exif
SELECT md5('asset' || i)::uuid,
       (ARRAY['Apple', 'Canon', 'SONY', 'samsung', 'Google'])[1 + i % 5],
       (ARRAY['iPhone 15 Pro', 'EOS R6', 'ILCE-7M4', 'SM-S918B', 'Pixel 8'])[1 + i % 5],
       4032, 3024, 1500000 + (i::bigint * 7919) % 4000000, '1', t, t,
       (ARRAY['iPhone 15 Pro back triple camera 6.86mm f/1.78', 'RF24-105mm F4 L IS USM', 'FE 24-70mm F2.8 GM II'])[1 + i % 3],
       1.78 + (i % 7) * 0.5, 6.86 + (i % 11), 50 * (1 + i % 64), '1/' || (30 + i % 2000),
       46.0 + (i % 1000) / 997.0, 7.0 + (i % 1000) / 991.0,
       (ARRAY['Zürich', 'Bern', 'Lyon', 'Milano', 'Wien'])[1 + i % 5],
       (ARRAY['Zürich', 'Bern', 'Auvergne-Rhône-Alpes', 'Lombardia', 'Wien'])[1 + i % 5],
       (ARRAY['Switzerland', 'Switzerland', 'France', 'Italy', 'Austria'])[1 + i % 5],
       CASE WHEN i % 7 = 0 THEN 'Holiday ' || (2010 + i % 16) ELSE '' END,
       'Europe/Zurich',
       jsonb_build_object(
           'Make', (ARRAY['Apple', 'Canon', 'SONY', 'samsung', 'Google'])[1 + i % 5],
           'ExposureProgram', 2, 'MeteringMode', 5, 'Flash', 16, 'WhiteBalance', 0,
           'SubSecTimeOriginal', lpad((i % 1000)::text, 3, '0'),
           'OffsetTimeOriginal', '+02:00', 'BrightnessValue', round((random() * 10)::numeric, 6),
           'ShutterSpeedValue', round((random() * 12)::numeric, 6), 'ImageUniqueID', md5('uid' || i),
           'ContentIdentifier', upper(md5('cid' || i)::uuid::text))
FROM (SELECT i, timestamptz '2010-01-01 00:00:00+00' + i * interval '7 minutes 13 seconds' AS t
      FROM generate_series(:part + 1, :assets, :parts) i) g;

INSERT INTO asset_files
SELECT md5(kind || i)::uuid, md5('asset' || i)::uuid, kind,
       '/data/thumbs/user' || (1 + i % 5) || '/' || substr(md5('asset' || i), 1, 2) || '/' ||
           substr(md5('asset' || i), 3, 2) || '/' || md5('asset' || i) || '-' || kind ||
           CASE kind WHEN 'thumbnail' THEN '.webp' ELSE '.jpeg' END,
       timestamptz '2025-06-01 00:00:00+00' + i * interval '1 second',
       timestamptz '2025-06-01 00:00:00+00' + i * interval '1 second'
FROM generate_series(:part + 1, :assets, :parts) i, (VALUES ('thumbnail'), ('preview')) k(kind);

-- CLIP embeddings are unit vectors of 512 floats with no structure a compressor could use.
INSERT INTO smart_search
SELECT md5('asset' || i)::uuid,
       ARRAY(SELECT ((random() - 0.5) * 0.09 + i * 0)::real FROM generate_series(1, 512))
FROM generate_series(:part + 1, :assets, :parts) i;
COMMIT;
\endif

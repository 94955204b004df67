# Hashes of fixed-output downloads that must be refreshed on a machine with
# network access. Nothing else in nix/ needs a hash:
#  - Rust crates come from Cargo.lock (cargoLock.lockFile): each crate is
#    fetched by the checksum Cargo.lock already records.
#  - npm packages come from frontend/package-lock.json through importNpmLock,
#    which uses the `integrity` field of every entry.
{
  # Only used if you switch nix/frontend.nix to `fetchNpmDeps` (for example
  # because a dependency lacks an `integrity` field, which importNpmLock
  # needs). NOT A REAL HASH. Refresh it with `nix build .#frontend` on a
  # networked machine and copy the "got:" hash from the mismatch error.
  frontendNpmDepsHash = "sha256-PLACEHOLDERxREFRESHxWITHxNIXxBUILDxxxxxxxxA=";
}

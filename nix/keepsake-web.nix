# keepsake-web: the unprivileged dashboard server, with the frontend embedded.
#
# rust-embed embeds `frontend/dist` at compile time in release builds, so the
# built frontend is copied into the source tree before cargo runs.
{
  buildKeepsakeRust,
  frontend,
}:
buildKeepsakeRust {
  pname = "keepsake-web";
  crates = [ "keepsake-web" ];
  description = "Keepsake dashboard web server (unprivileged)";

  postPatch = ''
    rm -rf frontend/dist
    mkdir -p frontend
    cp -r ${frontend} frontend/dist
    chmod -R u+w frontend/dist
  '';

  passthru = { inherit frontend; };
}

# Pure helpers for Keepsake, with no dependency on nixpkgs.
#
# This file only uses builtins, so the offline checks (tests/nix/check.sh) can
# evaluate it with a bare `nix-instantiate`, on machines where nixpkgs cannot be
# fetched. The NixOS modules and the example host use it through
# `import ./nix/lib.nix`.
#
# The main job here is turning the agent-written `options.json` (user-chosen
# settings) into `keepsake.*` option values. The JSON is data, never code: the
# agent never emits Nix, and every key is checked against a fixed whitelist so
# a typo or a hostile key fails evaluation with a message that names it instead
# of being silently ignored (or, worse, being read as `_type`/`__functor`).
let
  inherit (builtins)
    attrNames
    concatStringsSep
    elem
    filter
    fromJSON
    isAttrs
    isBool
    isInt
    isList
    isString
    readFile
    removeAttrs
    toJSON
    typeOf
    ;

  # Throw with one consistent prefix so the agent can grep evaluation errors.
  fail = where: msg: throw "keepsake: options.json: ${where}: ${msg}";

  # Reject any key not in `allowed`, naming the first offender.
  checkKeys =
    where: allowed: set:
    let
      unknown = filter (k: !(elem k allowed)) (attrNames set);
    in
    if !(isAttrs set) then
      fail where "expected an object, got ${typeOf set}"
    else if unknown != [ ] then
      fail where "unknown key(s) ${concatStringsSep ", " unknown}; allowed: ${concatStringsSep ", " allowed}"
    else
      set;

  # Typed accessors: return `default` when the key is absent, else check type.
  get =
    pred: tname: where: set: key: default:
    if set ? ${key} then
      (
        if pred set.${key} then
          set.${key}
        else
          fail "${where}.${key}" "expected ${tname}, got ${typeOf set.${key}} (${toJSON set.${key}})"
      )
    else
      default;
  getStr = get isString "a string";
  getBool = get isBool "a boolean";
  getInt = get isInt "an integer";
  getStrList = get (v: isList v && builtins.all isString v) "a list of strings";
  getNullOrStr = get (v: v == null || isString v) "a string or null";

  # The schema version this file understands. The agent writes `"schema": 1`;
  # a future agent that writes 2 must ship a matching lib.nix first.
  schemaVersion = 1;

  topKeys = [
    "schema"
    "hostName"
    "dashboardHostName"
    "timeZone"
    "hostId"
    "docker"
    "zfs"
    "updates"
  ];
in
rec {
  inherit schemaVersion;

  # Format "address:port" for a listen flag; IPv6 literals need brackets.
  formatListen =
    address: port:
    if builtins.match ".*:.*" address != null then
      "[${address}]:${toString port}"
    else
      "${address}:${toString port}";

  # True for addresses that only reach this machine (used to decide whether a
  # service may be fenced to loopback with IPAddressDeny=any).
  isLoopback =
    address:
    builtins.match "127\\.[0-9]+\\.[0-9]+\\.[0-9]+" address != null
    || address == "::1"
    || address == "localhost";

  # Validate a decoded options.json value and return it normalised: every key
  # present, defaults filled in. Pure, so it is unit-tested offline.
  normaliseSettings =
    raw:
    let
      s = checkKeys "top level" topKeys raw;
      schema = getInt "top level" s "schema" schemaVersion;
      docker = checkKeys "docker" [ "storageDriver" ] (s.docker or { });
      zfs = checkKeys "zfs" [ "datasets" "hourly" "daily" "monthly" "yearly" ] (s.zfs or { });
      updates = checkKeys "updates" [
        "enable"
        "dates"
        "allowReboot"
        "rebootWindow"
      ] (s.updates or { });
      window = updates.rebootWindow or null;
      checkedWindow =
        if window == null then
          null
        else
          let
            w = checkKeys "updates.rebootWindow" [ "lower" "upper" ] window;
            hhmm = v: isString v && builtins.match "([01][0-9]|2[0-3]):[0-5][0-9]" v != null;
          in
          if !(w ? lower && w ? upper) then
            fail "updates.rebootWindow" "needs both lower and upper"
          else if !(hhmm w.lower && hhmm w.upper) then
            fail "updates.rebootWindow" "lower/upper must be \"HH:MM\""
          else
            { inherit (w) lower upper; };
      hostId = getNullOrStr "top level" s "hostId" null;
    in
    if schema != schemaVersion then
      fail "schema" "this Keepsake understands schema ${toString schemaVersion}, the file says ${toString schema}"
    else if hostId != null && builtins.match "[0-9a-f]{8}" hostId == null then
      fail "hostId" "must be 8 lowercase hex digits (networking.hostId), got ${toJSON hostId}"
    else
      {
        inherit schema hostId;
        hostName = getStr "top level" s "hostName" "immich";
        dashboardHostName = getStr "top level" s "dashboardHostName" "keepsake.local";
        timeZone = getNullOrStr "top level" s "timeZone" null;
        docker = {
          storageDriver = getNullOrStr "docker" docker "storageDriver" null;
        };
        zfs = {
          datasets = getStrList "zfs" zfs "datasets" [ ];
          hourly = getInt "zfs" zfs "hourly" 36;
          daily = getInt "zfs" zfs "daily" 30;
          monthly = getInt "zfs" zfs "monthly" 12;
          yearly = getInt "zfs" zfs "yearly" 2;
        };
        updates = {
          enable = getBool "updates" updates "enable" true;
          dates = getStr "updates" updates "dates" "04:40";
          allowReboot = getBool "updates" updates "allowReboot" false;
          rebootWindow = checkedWindow;
        };
      };

  # --- npm lock files ---------------------------------------------------------
  #
  # npm can write lock files without `resolved` URLs (omit-lockfile-registry-
  # resolved, or a lock generated against a mirror). nixpkgs' importNpmLock
  # fetches each package by `resolved` + `integrity`, so fill the URL in with
  # the npm registry's fixed tarball layout. The integrity hash still pins the
  # content, so a wrong URL can only fail the fetch, never change what is built.

  # "node_modules/a/node_modules/@s/b" -> "@s/b"
  npmPackageName =
    path:
    let
      parts = builtins.filter isString (builtins.split "node_modules/" path);
    in
    builtins.elemAt parts (builtins.length parts - 1);

  # registry + package name + version -> tarball URL ("@s/b" -> ".../@s/b/-/b-1.0.0.tgz")
  npmTarballUrl =
    registry: name: version:
    let
      base = builtins.elemAt (builtins.match "(@[^/]+/)?(.+)" name) 1;
    in
    "${registry}/${name}/-/${base}-${version}.tgz";

  # Add `resolved` to every registry entry of a package-lock.json (v2/v3) value
  # that lacks it. The root entry, links and bundled dependencies are left alone.
  npmFillResolved =
    registry: lock:
    lock
    // {
      packages = builtins.mapAttrs (
        path: entry:
        if
          path == ""
          || entry ? resolved
          || entry ? link
          || (entry.inBundle or false)
          || !(entry ? version && entry ? integrity)
        then
          entry
        else
          entry // { resolved = npmTarballUrl registry (entry.name or (npmPackageName path)) entry.version; }
      ) (lock.packages or { });
    };

  # Read and normalise an options.json file.
  readSettings = path: normaliseSettings (fromJSON (readFile path));

  # Map normalised settings onto `keepsake.*` option values. Only options that
  # the user may change from the dashboard appear here; everything else stays
  # at the module defaults.
  toKeepsakeConfig = settings: {
    hostName = settings.hostName;
    caddy.dashboardHostName = settings.dashboardHostName;
    docker.storageDriver = settings.docker.storageDriver;
    sanoid = {
      datasets = settings.zfs.datasets;
      retention = removeAttrs settings.zfs [ "datasets" ];
    };
    updates = {
      inherit (settings.updates)
        enable
        dates
        allowReboot
        rebootWindow
        ;
    };
  };
}

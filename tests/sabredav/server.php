<?php
// The REAL sabre/dav (4.7.0, the version Nextcloud 32 ships; with sabre/vobject, sabre/http,
// sabre/xml and icewind/searchdav) serving Nextcloud's DAV tree at /remote.php/dav/, for tests.
// A router script for PHP's built-in server:
//
//   SABREDAV_DB=… SABREDAV_FILES=… SABREDAV_USERS=… SABREDAV_TEST_SECRET=… \
//   PHP_CLI_SERVER_WORKERS=4 php -S 127.0.0.1:PORT tests/sabredav/server.php
//   php tests/sabredav/server.php --init     (creates the SQLite schema in SABREDAV_DB)
//
// The libraries are found at SABRE_DAV_DIR, else at <repository>/../shared/sabre-dav. What is real
// and what imitates Nextcloud is listed in README.md beside this file; the imitations cite the
// Nextcloud sources they follow.
declare(strict_types=1);

use Sabre\DAV;

// A PHP warning must never end up in a response body: errors go to the log (stderr) only.
error_reporting(E_ALL & ~E_DEPRECATED);
ini_set('display_errors', '0');
ini_set('log_errors', '1');
ini_set('html_errors', '0');

$sabreDir = getenv('SABRE_DAV_DIR') ?: dirname(__DIR__, 3) . '/shared/sabre-dav';
if (!is_file($sabreDir . '/autoload.php')) {
    $msg = "sabre/dav not found at $sabreDir (autoload.php missing): put the shared folder beside the repository or set SABRE_DAV_DIR";
    error_log($msg);
    if (PHP_SAPI === 'cli') {
        exit(1);
    }
    http_response_code(500);
    header('Content-Type: text/plain; charset=utf-8');
    echo $msg, "\n";
    return true;
}
require_once $sabreDir . '/autoload.php';
foreach (['FileCache', 'InvalidPath', 'FileNodes', 'FilesPlugin', 'FileSearchBackend', 'Layout', 'TestApi', 'Trashbin', 'Versions', 'SystemTags', 'TagsPlugin', 'FilesReportPlugin'] as $lib) {
    require_once __DIR__ . "/lib/$lib.php";
}

/** SQLite through PDO: exceptions, waits (up to 30 s) instead of failing on a busy database. */
function nctest_pdo(string $file): PDO
{
    $pdo = new PDO('sqlite:' . $file, null, null, [PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION, PDO::ATTR_TIMEOUT => 30]);
    $pdo->exec('PRAGMA synchronous = NORMAL');
    return $pdo;
}

/**
 * Which optional apps are on: files_trashbin and files_versions (both by default, as in a new
 * Nextcloud), from apps.json beside the database (the test API's POST /__test/apps writes it).
 */
function nctest_apps(string $db): array
{
    $text = @file_get_contents(dirname($db) . '/apps.json');
    $apps = $text === false ? [] : json_decode($text, true);
    return (is_array($apps) ? $apps : []) + ['files_trashbin' => true, 'files_versions' => true];
}

function nctest_env(string $name): string
{
    $value = getenv($name);
    if ($value === false || $value === '') {
        throw new RuntimeException("$name is not set");
    }
    return $value;
}

if (PHP_SAPI === 'cli') {
    if (($argv[1] ?? '') !== '--init') {
        fwrite(STDERR, "usage: php server.php --init   (or use it as the router of php -S)\n");
        exit(2);
    }
    $pdo = nctest_pdo(nctest_env('SABREDAV_DB'));
    $pdo->exec('PRAGMA journal_mode = WAL');
    $pdo->exec(file_get_contents($sabreDir . '/schema.sqlite.sql'));
    $pdo->exec(NcTest\FileCache::schema());
    exit(0);
}

$path = parse_url($_SERVER['REQUEST_URI'] ?? '/', PHP_URL_PATH) ?: '/';
try {
    $pdo = nctest_pdo(nctest_env('SABREDAV_DB'));
    $cache = new NcTest\FileCache($pdo, nctest_env('SABREDAV_FILES'));
    $apps = nctest_apps(nctest_env('SABREDAV_DB'));
    $cache->trashbin = $apps['files_trashbin'] ? new NcTest\Trashbin($pdo, $cache) : null;
    $cache->versions = $apps['files_versions'] ? new NcTest\Versions($pdo, $cache) : null;
    $users = new NcTest\UserStore(nctest_env('SABREDAV_USERS'));
    if (str_starts_with($path, '/__test/')) {
        (new NcTest\TestApi($pdo, $users, $cache, (string) getenv('SABREDAV_TEST_SECRET')))->handle($_SERVER['REQUEST_METHOD'], $path);
        return true;
    }
} catch (Throwable $e) {
    error_log('sabredav test server: ' . $e);
    http_response_code(500);
    header('Content-Type: text/plain; charset=utf-8');
    echo "Internal Server Error\n";
    return true;
}
if ($path !== '/remote.php/dav' && !str_starts_with($path, '/remote.php/dav/')) {
    http_response_code(404);
    header('Content-Type: text/plain; charset=utf-8');
    echo "Not Found\n";
    return true;
}

// The tree, laid out as apps/dav/lib/RootCollection.php does (listing of the principal-based
// collections disabled, as Nextcloud does unless in debug mode).
$principalBackend = new Sabre\DAVACL\PrincipalBackend\PDO($pdo);
$caldavBackend = new Sabre\CalDAV\Backend\PDO($pdo);
$carddavBackend = new Sabre\CardDAV\Backend\PDO($pdo);
$authPlugin = new DAV\Auth\Plugin(new NcTest\AuthBackend(fn ($u, $p) => $users->check((string) $u, (string) $p)));
$currentUser = function () use ($authPlugin): ?string {
    $principal = $authPlugin->getCurrentPrincipal();
    return $principal === null ? null : \Sabre\Uri\split($principal)[1];
};
// oc:id = file id + instance id; one instance id per database, like Nextcloud's `instanceid`.
$instanceId = 'oc' . substr(hash('sha256', realpath(nctest_env('SABREDAV_DB')) ?: ''), 0, 10);

$userPrincipals = new NcTest\PrincipalCollection($principalBackend, 'principals/users');
$files = new NcTest\FilesRoot($principalBackend, 'principals/users', $cache, $currentUser, $instanceId);
$calendars = new Sabre\CalDAV\CalendarRoot($principalBackend, $caldavBackend, 'principals/users');
$addressBooks = new NcTest\AddressBookRoot($principalBackend, $carddavBackend, 'principals/users');
foreach ([$userPrincipals, $files, $calendars, $addressBooks] as $collection) {
    $collection->disableListing = true;
}
$displayName = function (string $user) use ($principalBackend): string {
    return $principalBackend->getPrincipalByPath('principals/users/' . $user)['{DAV:}displayname'] ?? $user;
};
$systemTags = new NcTest\SystemTags($pdo);
$collections = [
    new DAV\SimpleCollection('principals', [$userPrincipals]),
    $files,
    $calendars,
    new DAV\SimpleCollection('addressbooks', [$addressBooks]),
    new NcTest\SystemTagsByIdCollection($systemTags),
    new NcTest\SystemTagsRelationsCollection($systemTags, $currentUser),
];
// The apps' collections exist only while the apps are on (apps/dav/lib/RootCollection.php adds
// what the apps' info.xml declare under <sabre><collections>).
if ($cache->trashbin !== null) {
    $collections[] = $trash = new NcTest\TrashRootCollection($principalBackend, $cache->trashbin, $currentUser, $displayName);
    $trash->disableListing = true;
}
if ($cache->versions !== null) {
    $collections[] = $versions = new NcTest\VersionsRootCollection($principalBackend, $cache->versions, $currentUser);
    $versions->disableListing = true;
}
$root = new DAV\SimpleCollection('root', $collections);

$server = new DAV\Server($root);
$server->setBaseUri('/remote.php/dav/');
DAV\Server::$exposeVersion = false; // as apps/dav/lib/Server.php
$server->addPlugin($authPlugin);
$acl = new Sabre\DAVACL\Plugin();
$acl->principalCollectionSet = ['principals/users'];
$acl->defaultUsernamePath = 'principals/users';
$acl->allowUnauthenticatedAccess = false;
$server->addPlugin($acl);
$server->addPlugin(new NcTest\FilesPlugin($displayName));
$server->addPlugin(new NcTest\CalDAVPlugin());
$server->addPlugin(new Sabre\CalDAV\Schedule\Plugin());
$server->addPlugin(new NcTest\CardDAVPlugin());
$server->addPlugin(new DAV\Sync\Plugin());
$server->addPlugin(new DAV\PropertyStorage\Plugin(new DAV\PropertyStorage\Backend\PDO($pdo)));
if ($cache->trashbin !== null) {
    $server->addPlugin(new NcTest\TrashbinPlugin());
}
if ($cache->versions !== null) {
    $server->addPlugin(new NcTest\VersionsPlugin());
}
$server->addPlugin(new NcTest\SystemTagPlugin($systemTags));
$server->addPlugin($favorites = new NcTest\TagsPlugin($pdo, $currentUser));
$server->addPlugin(new NcTest\FilesReportPlugin($pdo, $systemTags, $favorites, $currentUser));
$server->addPlugin(new SearchDAV\DAV\SearchPlugin(new NcTest\FileSearchBackend($server, $cache, $pdo, $currentUser)));
$server->start();
return true;

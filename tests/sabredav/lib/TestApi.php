<?php
// Test-only endpoints, outside /remote.php, each requiring `X-Test-Secret: $SABREDAV_TEST_SECRET`:
//   GET  /__test/ping                                         → 200 "ok" (readiness)
//   POST /__test/users/<user>  {"password", "displayname"?, "email"?}
//        creates or updates a user as Nextcloud has one after the first login (idempotent);
//   GET  /__test/raw/calendars/<user>/<calendar>/<object>
//   GET  /__test/raw/addressbooks/<user>/<book>/<card>       → the stored bytes verbatim, or 404;
//   GET  /__test/raw/<kind>/<user>/<collection>/             → JSON [{name, etag, data}] by name;
//   POST /__test/apps  {"files_trashbin"?: bool, "files_versions"?: bool}
//        switches those apps on or off (apps.json beside the database) → the settings;
//   POST /__test/systemtags  {"name", "userVisible"?, "userAssignable"?}
//        creates a system tag as an admin may (also invisible or restricted ones) → {"id"}.
declare(strict_types=1);

namespace NcTest;

final class TestApi
{
    /** Nextcloud's user id rule (lib/private/User/Manager.php validateUserId). */
    private const USER_ID = '/^[a-zA-Z0-9 _.@\-\']+$/';

    public function __construct(private \PDO $pdo, private UserStore $users, private FileCache $cache, private string $secret)
    {
    }

    /** Answers the request (path without query) and returns nothing; all output is the body. */
    public function handle(string $method, string $path): void
    {
        $given = $_SERVER['HTTP_X_TEST_SECRET'] ?? '';
        if ($this->secret === '' || !hash_equals($this->secret, (string) $given)) {
            $this->reply(403, "Forbidden: X-Test-Secret missing or wrong\n");
            return;
        }
        $parts = array_map('rawurldecode', explode('/', trim(substr($path, strlen('/__test/')), '/')));
        if ($method === 'GET' && $parts === ['ping']) {
            $this->reply(200, "ok\n");
        } elseif ($method === 'POST' && count($parts) === 2 && $parts[0] === 'users') {
            $this->provision($parts[1]);
        } elseif ($method === 'GET' && count($parts) === 5 && $parts[0] === 'raw') {
            $this->raw($parts[1], $parts[2], $parts[3], $parts[4]);
        } elseif ($method === 'GET' && count($parts) === 4 && $parts[0] === 'raw') {
            $this->raw($parts[1], $parts[2], $parts[3], null);
        } elseif ($method === 'POST' && $parts === ['apps']) {
            $this->apps();
        } elseif ($method === 'POST' && $parts === ['systemtags']) {
            $this->systemTag();
        } else {
            $this->reply(404, "Not Found\n");
        }
    }

    private function apps(): void
    {
        $body = json_decode((string) file_get_contents('php://input'), true);
        $file = dirname((string) getenv('SABREDAV_DB')) . '/apps.json';
        $apps = \nctest_apps((string) getenv('SABREDAV_DB'));
        foreach (['files_trashbin', 'files_versions'] as $app) {
            if (is_array($body) && is_bool($body[$app] ?? null)) {
                $apps[$app] = $body[$app];
            }
        }
        file_put_contents($file . '.tmp', json_encode($apps));
        rename($file . '.tmp', $file);
        $this->reply(200, json_encode($apps) . "\n", 'application/json');
    }

    private function systemTag(): void
    {
        $body = json_decode((string) file_get_contents('php://input'), true);
        if (!is_array($body) || !is_string($body['name'] ?? null)) {
            $this->reply(400, "Bad Request: {\"name\": \"…\"} is required\n");
            return;
        }
        $tag = (new SystemTags($this->pdo))->create($body['name'], (bool) ($body['userVisible'] ?? true), (bool) ($body['userAssignable'] ?? true));
        if ($tag === null) {
            $this->reply(409, "Conflict: the tag exists\n");
            return;
        }
        $this->reply(201, json_encode(['id' => (string) $tag['id']]) . "\n", 'application/json');
    }

    private function reply(int $status, string $body, string $type = 'text/plain; charset=utf-8'): void
    {
        http_response_code($status);
        header('Content-Type: ' . $type);
        header('Content-Length: ' . strlen($body));
        echo $body;
    }

    private function provision(string $user): void
    {
        $body = json_decode((string) file_get_contents('php://input'), true);
        if (!preg_match(self::USER_ID, $user) || !is_array($body) || !is_string($body['password'] ?? null) || $body['password'] === '') {
            $this->reply(400, "Bad Request: a valid user id and {\"password\": \"…\"} are required\n");
            return;
        }
        $created = $this->users->locked(function () use ($user, $body) {
            $this->users->set($user, $body['password']);
            $principal = 'principals/users/' . $user;
            $displayname = is_string($body['displayname'] ?? null) ? $body['displayname'] : $user;
            $email = is_string($body['email'] ?? null) ? $body['email'] : null;
            $exists = $this->pdo->prepare('SELECT COUNT(*) FROM principals WHERE uri = ?');
            $exists->execute([$principal]);
            $new = (int) $exists->fetchColumn() === 0;
            if ($new) {
                $this->pdo->prepare('INSERT INTO principals (uri, email, displayname) VALUES (?, ?, ?)')->execute([$principal, $email, $displayname]);
            } else {
                $this->pdo->prepare('UPDATE principals SET displayname = ?, email = COALESCE(?, email) WHERE uri = ?')->execute([$displayname, $email, $principal]);
            }
            $this->cache->ensureHome($user);
            $this->firstLogin($principal);
            return $new;
        });
        $this->reply($created ? 201 : 200, json_encode(['user' => $user, 'created' => $created]) . "\n", 'application/json');
    }

    /**
     * What apps/dav/lib/Listener/UserEventsListener.php (firstLogin; HookManager.php before
     * Nextcloud 31) creates when a user has no calendar / no address book yet: calendar
     * `personal` ("Personal", VEVENT only, the theming primary colour — #00679e by default since
     * Nextcloud 28, see lib/private/legacy/OC_Defaults.php) and address book `contacts`
     * ("Contacts"): CalDavBackend::PERSONAL_CALENDAR_*, CardDavBackend::PERSONAL_ADDRESSBOOK_*.
     * Nextcloud 32 then also adds an example event and (when configured) an example contact;
     * this server does not, as with `create_example_event` and `enableDefaultContact` off.
     */
    private function firstLogin(string $principal): void
    {
        $count = $this->pdo->prepare('SELECT COUNT(*) FROM calendarinstances WHERE principaluri = ?');
        $count->execute([$principal]);
        if ((int) $count->fetchColumn() === 0) {
            (new \Sabre\CalDAV\Backend\PDO($this->pdo))->createCalendar($principal, 'personal', [
                '{DAV:}displayname' => 'Personal',
                '{http://apple.com/ns/ical/}calendar-color' => '#00679e',
                '{urn:ietf:params:xml:ns:caldav}supported-calendar-component-set' => new \Sabre\CalDAV\Xml\Property\SupportedCalendarComponentSet(['VEVENT']),
            ]);
        }
        $count = $this->pdo->prepare('SELECT COUNT(*) FROM addressbooks WHERE principaluri = ?');
        $count->execute([$principal]);
        if ((int) $count->fetchColumn() === 0) {
            (new \Sabre\CardDAV\Backend\PDO($this->pdo))->createAddressBook($principal, 'contacts', ['{DAV:}displayname' => 'Contacts']);
        }
    }

    /** One stored object ($name given) or all of a collection's, straight from sabre's tables. */
    private function raw(string $kind, string $user, string $collection, ?string $name): void
    {
        $principal = 'principals/users/' . $user;
        if ($kind === 'calendars') {
            $sql = 'SELECT o.uri AS name, o.etag, o.calendardata AS data FROM calendarobjects o'
                . ' JOIN calendarinstances i ON i.calendarid = o.calendarid WHERE i.principaluri = ? AND i.uri = ?';
            $type = 'text/calendar; charset=utf-8';
        } elseif ($kind === 'addressbooks') {
            $sql = 'SELECT c.uri AS name, c.etag, c.carddata AS data FROM cards c'
                . ' JOIN addressbooks b ON b.id = c.addressbookid WHERE b.principaluri = ? AND b.uri = ?';
            $type = 'text/vcard; charset=utf-8';
        } else {
            $this->reply(404, "Not Found\n");
            return;
        }
        $bytes = static fn ($d) => is_resource($d) ? stream_get_contents($d) : (string) $d;
        if ($name === null) {
            $st = $this->pdo->prepare($sql . ' ORDER BY name');
            $st->execute([$principal, $collection]);
            $list = array_map(fn ($r) => ['name' => $r['name'], 'etag' => $r['etag'], 'data' => $bytes($r['data'])], $st->fetchAll(\PDO::FETCH_ASSOC));
            $this->reply(200, json_encode($list, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_INVALID_UTF8_SUBSTITUTE) . "\n", 'application/json');
            return;
        }
        $st = $this->pdo->prepare($sql . ' AND ' . ($kind === 'calendars' ? 'o' : 'c') . '.uri = ?');
        $st->execute([$principal, $collection, $name]);
        $data = $st->fetchColumn(2);
        if ($data === false) {
            $this->reply(404, "Not Found\n");
            return;
        }
        $this->reply(200, $bytes($data), $type);
    }
}

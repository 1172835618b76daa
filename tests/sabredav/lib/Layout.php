<?php
// The small overrides with which Nextcloud puts sabre/dav's CalDAV, CardDAV and authentication
// at its own paths. Each imitates (does not copy) the Nextcloud file named above it.
declare(strict_types=1);

namespace NcTest;

/**
 * apps/dav/lib/CalDAV/Plugin.php: sabre's default only finds a calendar home for two-segment
 * principals (principals/<id>); Nextcloud's are principals/users/<id> → calendars/<id>.
 */
final class CalDAVPlugin extends \Sabre\CalDAV\Plugin
{
    public function getCalendarHomeForPrincipal($principalUrl)
    {
        if (str_starts_with($principalUrl, 'principals/users/')) {
            [, $id] = \Sabre\Uri\split($principalUrl);
            return self::CALENDAR_ROOT . '/' . $id;
        }
        return null;
    }
}

/** apps/dav/lib/CardDAV/Plugin.php: principals/users/<id> → addressbooks/users/<id>. */
final class CardDAVPlugin extends \Sabre\CardDAV\Plugin
{
    protected function getAddressbookHomeForPrincipal($principal)
    {
        if (str_starts_with($principal, 'principals/users/')) {
            [, $id] = \Sabre\Uri\split($principal);
            return self::ADDRESSBOOK_ROOT . '/users/' . $id;
        }
        return null;
    }
}

/**
 * apps/dav/lib/CardDAV/AddressBookRoot.php (getName) with apps/dav/lib/RootCollection.php: the
 * users' address book homes sit at addressbooks/users/, so this root is named after the second
 * segment of its principal prefix.
 */
final class AddressBookRoot extends \Sabre\CardDAV\AddressBookRoot
{
    public function getName()
    {
        if ($this->principalPrefix === 'principals') {
            return parent::getName();
        }
        return explode('/', $this->principalPrefix)[1];
    }
}

/**
 * sabre's Basic authentication over SABREDAV_USERS; principals/users/ as the principal prefix and
 * "Nextcloud" as the realm, as apps/dav/lib/Connector/Sabre/Auth.php sets them.
 */
final class AuthBackend extends \Sabre\DAV\Auth\Backend\BasicCallBack
{
    public function __construct(callable $check)
    {
        parent::__construct($check);
        $this->principalPrefix = 'principals/users/';
        $this->setRealm('Nextcloud');
    }
}

/** The JSON file {user: password} (SABREDAV_USERS), written under an exclusive lock. */
final class UserStore
{
    public function __construct(private string $file)
    {
    }

    public function check(string $user, string $password): bool
    {
        $users = $this->read();
        return isset($users[$user]) && hash_equals((string) $users[$user], $password);
    }

    /** Runs $fn while holding the store's lock (provisioning is serialised across workers). */
    public function locked(callable $fn): mixed
    {
        $lock = fopen($this->file . '.lock', 'c');
        flock($lock, LOCK_EX);
        try {
            return $fn();
        } finally {
            flock($lock, LOCK_UN);
            fclose($lock);
        }
    }

    public function set(string $user, string $password): void
    {
        $users = $this->read();
        $users[$user] = $password;
        $tmp = $this->file . '.' . bin2hex(random_bytes(4));
        file_put_contents($tmp, json_encode($users, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE));
        chmod($tmp, 0600);
        rename($tmp, $this->file);
    }

    private function read(): array
    {
        $text = @file_get_contents($this->file);
        $users = $text === false ? [] : json_decode($text, true);
        return is_array($users) ? $users : [];
    }
}

/**
 * apps/dav/lib/CalDAV/Principal/Collection.php and Principal/User.php (the collection
 * apps/dav/lib/RootCollection.php mounts at principals/users): user principals are CalDAV
 * principals, and every signed-in user may read them, so free/busy lookups and invitations
 * find other users' calendar homes and schedule inboxes.
 */
final class PrincipalCollection extends \Sabre\CalDAV\Principal\Collection
{
    public function getChildForPrincipal(array $principalInfo)
    {
        return new PrincipalUser($this->principalBackend, $principalInfo);
    }
}

final class PrincipalUser extends \Sabre\CalDAV\Principal\User
{
    public function getACL()
    {
        $acl = parent::getACL();
        $acl[] = ['privilege' => '{DAV:}read', 'principal' => '{DAV:}authenticated', 'protected' => true];
        return $acl;
    }
}

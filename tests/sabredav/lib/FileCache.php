<?php
// Per-user file storage for the test server: contents in a folder on disk
// (SABREDAV_FILES/<user>/…), metadata in the SQLite table nc_filecache. An imitation of the part
// of Nextcloud's file layer that its DAV nodes rely on (lib/private/Files/Cache/Cache.php,
// Cache/Propagator.php, Storage/Local.php, Files/View.php): every file and folder has a
// persistent numeric file id; a file's ETag changes with its content; writing, creating,
// deleting or moving something gives every folder above it a new ETag and mtime and updates
// its recursive size. Paths are NFC-normalised, as \OC\Files\Filesystem::normalizePath does.
// Nothing here is Nextcloud code.
declare(strict_types=1);

namespace NcTest;

final class FileCache
{
    public const FOLDER_MIME = 'httpd/unix-directory';

    /** Nextcloud's mimetype mapping (resources/config/mimetypemapping.dist.json), common types. */
    private const MIME = [
        'txt' => 'text/plain', 'md' => 'text/markdown', 'markdown' => 'text/markdown', 'csv' => 'text/csv',
        'json' => 'application/json', 'html' => 'text/html', 'htm' => 'text/html', 'xml' => 'application/xml',
        'pdf' => 'application/pdf', 'png' => 'image/png', 'jpg' => 'image/jpeg', 'jpeg' => 'image/jpeg',
        'gif' => 'image/gif', 'svg' => 'image/svg+xml', 'zip' => 'application/zip',
        'docx' => 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
        'xlsx' => 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
        'odt' => 'application/vnd.oasis.opendocument.text', 'ics' => 'text/calendar', 'vcf' => 'text/vcard',
    ];

    /** The trash bin (files_trashbin's storage wrapper): deleting moves into it when set. */
    public ?Trashbin $trashbin = null;
    /** File versions (files_versions' write hook): overwriting keeps the old content when set. */
    public ?Versions $versions = null;

    public function __construct(private \PDO $pdo, private string $root)
    {
    }

    /** Beside the users' files: where an app keeps its own per-user data (files_trashbin/…). */
    public function appDataPath(string $app, string $owner): string
    {
        return dirname($this->root) . '/' . $app . '/' . $owner;
    }

    public static function schema(): string
    {
        return <<<'SQL'
            CREATE TABLE IF NOT EXISTS nc_filecache (
              fileid INTEGER PRIMARY KEY AUTOINCREMENT,
              owner TEXT NOT NULL, path TEXT NOT NULL, parent INTEGER NOT NULL, name TEXT NOT NULL,
              mimetype TEXT NOT NULL, mimepart TEXT NOT NULL, size INTEGER NOT NULL, mtime INTEGER NOT NULL,
              etag TEXT NOT NULL, UNIQUE (owner, path));
            CREATE INDEX IF NOT EXISTS nc_filecache_parent ON nc_filecache (parent);
            SQL . Trashbin::schema() . Versions::schema() . SystemTags::schema();
    }

    public static function mimeFor(string $name): string
    {
        $dot = strrpos($name, '.');
        $ext = $dot === false || $dot === 0 ? '' : strtolower(substr($name, $dot + 1));
        return self::MIME[$ext] ?? 'application/octet-stream';
    }

    /** NFC form of a path, without leading/trailing or doubled slashes. */
    public static function normalize(string $path): string
    {
        $nfc = \Normalizer::normalize($path, \Normalizer::FORM_C);
        $parts = array_filter(explode('/', $nfc === false ? $path : $nfc), static fn ($p) => $p !== '');
        return implode('/', $parts);
    }

    public static function join(string $dir, string $name): string
    {
        return $dir === '' ? $name : "$dir/$name";
    }

    public static function parentOf(string $path): string
    {
        $i = strrpos($path, '/');
        return $i === false ? '' : substr($path, 0, $i);
    }

    /** A folder's ETag: 13 hex digits like PHP's uniqid(), which Nextcloud's Propagator uses. */
    private static function folderEtag(): string
    {
        return uniqid();
    }

    /**
     * A file's ETag: Storage\Local::calculateEtag hashes mtime, inode, device and size; a nonce is
     * added because two same-size writes within a second could otherwise reuse an inode number.
     */
    private static function fileEtag(array $stat): string
    {
        return md5($stat['mtime'] . $stat['ino'] . $stat['dev'] . $stat['size'] . bin2hex(random_bytes(4)));
    }

    public function diskPath(string $owner, string $path): string
    {
        return $this->root . '/' . $owner . ($path === '' ? '' : '/' . $path);
    }

    public function get(string $owner, string $path): ?array
    {
        $st = $this->pdo->prepare('SELECT * FROM nc_filecache WHERE owner = ? AND path = ?');
        $st->execute([$owner, $path]);
        $row = $st->fetch(\PDO::FETCH_ASSOC);
        return $row === false ? null : $row;
    }

    /** @return array[] the rows directly inside the folder with id $parent, by name */
    public function children(int $parent): array
    {
        $st = $this->pdo->prepare('SELECT * FROM nc_filecache WHERE parent = ? ORDER BY name');
        $st->execute([$parent]);
        return $st->fetchAll(\PDO::FETCH_ASSOC);
    }

    /** The user's home folder: created on disk and in the cache when missing. */
    public function ensureHome(string $owner): array
    {
        $dir = $this->diskPath($owner, '');
        if (!is_dir($dir) && !mkdir($dir, 0700, true) && !is_dir($dir)) {
            throw new \RuntimeException("cannot create $dir");
        }
        $home = $this->get($owner, '');
        if ($home !== null) {
            return $home;
        }
        $this->pdo->prepare('INSERT OR IGNORE INTO nc_filecache (owner, path, parent, name, mimetype, mimepart, size, mtime, etag)'
            . ' VALUES (?, \'\', -1, \'\', ?, \'httpd\', 0, ?, ?)')
            ->execute([$owner, self::FOLDER_MIME, time(), self::folderEtag()]);
        return $this->get($owner, '');
    }

    /** Runs $fn in an IMMEDIATE transaction (no lock upgrade, so no SQLITE_BUSY mid-way). */
    private function write(callable $fn): mixed
    {
        $this->pdo->exec('BEGIN IMMEDIATE');
        try {
            $result = $fn();
            $this->pdo->exec('COMMIT');
            return $result;
        } catch (\Throwable $e) {
            $this->pdo->exec('ROLLBACK');
            throw $e;
        }
    }

    /** Every folder above $path gets a new ETag and mtime, and its size changes by $delta. */
    private function propagate(string $owner, string $path, int $delta, int $mtime): void
    {
        $st = $this->pdo->prepare('UPDATE nc_filecache SET size = size + ?, etag = ?, mtime = MAX(mtime, ?)'
            . ' WHERE owner = ? AND path = ?');
        $p = $path;
        while ($p !== '') {
            $p = self::parentOf($p);
            $st->execute([$delta, self::folderEtag(), $mtime, $owner, $p]);
        }
    }

    /**
     * Writes a file (created or replaced); $data is a stream or a string. Returns its row. The
     * replaced content becomes a version first (files_versions' write hook), unless $keepVersion
     * is false (a version being restored).
     */
    public function putFile(string $owner, string $path, mixed $data, ?int $mtime = null, bool $keepVersion = true): array
    {
        $target = $this->diskPath($owner, $path);
        // Like Nextcloud's File::put: into a part file first, renamed over the target afterwards.
        $part = dirname($target) . '/.upload-' . bin2hex(random_bytes(8)) . '.part';
        $out = fopen($part, 'xb');
        if ($out === false) {
            throw new \RuntimeException('cannot write ' . $part);
        }
        try {
            if (is_resource($data)) {
                stream_copy_to_stream($data, $out);
            } elseif ($data !== null) {
                fwrite($out, (string) $data);
            }
        } finally {
            fclose($out);
        }
        if ($mtime !== null) {
            touch($part, $mtime);
        }
        return $this->write(function () use ($owner, $path, $part, $target, $keepVersion) {
            $parent = $this->get($owner, self::parentOf($path));
            if ($parent === null || $parent['mimetype'] !== self::FOLDER_MIME) {
                unlink($part);
                throw new \RuntimeException('parent folder missing for ' . $path);
            }
            $old = $this->get($owner, $path);
            if ($old !== null && $keepVersion && $this->versions !== null) {
                $this->versions->store($owner, $old, $target);
            }
            rename($part, $target);
            clearstatcache(true, $target);
            $stat = stat($target);
            $name = basename('/' . $path);
            $mime = self::mimeFor($name);
            $etag = self::fileEtag($stat);
            if ($old === null) {
                $this->pdo->prepare('INSERT INTO nc_filecache (owner, path, parent, name, mimetype, mimepart, size, mtime, etag)'
                    . ' VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
                    ->execute([$owner, $path, $parent['fileid'], $name, $mime, explode('/', $mime)[0], $stat['size'], $stat['mtime'], $etag]);
            } else {
                $this->pdo->prepare('UPDATE nc_filecache SET size = ?, mtime = ?, etag = ?, mimetype = ?, mimepart = ? WHERE fileid = ?')
                    ->execute([$stat['size'], $stat['mtime'], $etag, $mime, explode('/', $mime)[0], $old['fileid']]);
            }
            $this->propagate($owner, $path, $stat['size'] - (int) ($old['size'] ?? 0), time());
            return $this->get($owner, $path);
        });
    }

    public function mkdir(string $owner, string $path): array
    {
        return $this->write(function () use ($owner, $path) {
            $parent = $this->get($owner, self::parentOf($path));
            if ($parent === null || $parent['mimetype'] !== self::FOLDER_MIME || !mkdir($this->diskPath($owner, $path), 0700)) {
                throw new \RuntimeException('cannot create folder ' . $path);
            }
            $now = time();
            $this->pdo->prepare('INSERT INTO nc_filecache (owner, path, parent, name, mimetype, mimepart, size, mtime, etag)'
                . ' VALUES (?, ?, ?, ?, ?, \'httpd\', 0, ?, ?)')
                ->execute([$owner, $path, $parent['fileid'], basename('/' . $path), self::FOLDER_MIME, $now, self::folderEtag()]);
            $this->propagate($owner, $path, 0, $now);
            return $this->get($owner, $path);
        });
    }

    /** LIKE pattern for everything below $path (IDBConnection::escapeLikeParameter + '/%'). */
    private static function below(string $path): string
    {
        return addcslashes($path, '\\_%') . '/%';
    }

    /**
     * Deletes a file or a whole folder: into the trash bin when it is on (as files_trashbin's
     * storage wrapper turns unlink/rmdir into a move), else for good.
     */
    public function delete(string $owner, string $path): void
    {
        if ($this->trashbin !== null) {
            $this->trashbin->moveToTrash($owner, $path);
            return;
        }
        $this->purge($owner, $path);
    }

    /** Deletes a file or a whole folder for good, with its versions, tags and favourite marks. */
    public function purge(string $owner, string $path): void
    {
        $this->write(function () use ($owner, $path) {
            $row = $this->get($owner, $path);
            if ($row === null) {
                return;
            }
            $this->forgetIds($this->subtreeIds($owner, $path));
            $this->pdo->prepare("DELETE FROM nc_filecache WHERE owner = ? AND (path = ? OR path LIKE ? ESCAPE '\\')")
                ->execute([$owner, $path, self::below($path)]);
            self::removeTree($this->diskPath($owner, $path));
            $this->propagate($owner, $path, -(int) $row['size'], time());
        });
    }

    /** @return int[] the file ids of $path and everything below it */
    private function subtreeIds(string $owner, string $path): array
    {
        $st = $this->pdo->prepare("SELECT fileid FROM nc_filecache WHERE owner = ? AND (path = ? OR path LIKE ? ESCAPE '\\')");
        $st->execute([$owner, $path, self::below($path)]);
        return array_map('intval', $st->fetchAll(\PDO::FETCH_COLUMN));
    }

    /**
     * Drops what other apps keep by file id for files that are gone for good (versions, system
     * tag assignments, favourites), as Nextcloud's cache cleanup and the apps' delete hooks do.
     * @param int[] $ids
     */
    public function forgetIds(array $ids): void
    {
        foreach ($ids as $id) {
            $this->versions?->forget($id);
            $this->pdo->prepare("DELETE FROM nc_systemtag_object_mapping WHERE objecttype = 'files' AND objectid = ?")->execute([(string) $id]);
            $this->pdo->prepare('DELETE FROM nc_favorite WHERE fileid = ?')->execute([$id]);
        }
    }

    /**
     * Takes $path (a file or a folder with everything below it) out of the tree, its content
     * moved on disk to $diskTarget. Returns its rows, each with `rel`, its path below $path ('' for
     * $path itself), so that attach() can put it back with the same file ids.
     */
    public function detach(string $owner, string $path, string $diskTarget): array
    {
        return $this->write(function () use ($owner, $path, $diskTarget) {
            $row = $this->get($owner, $path);
            if ($row === null) {
                throw new \RuntimeException("cannot detach $path: not found");
            }
            $st = $this->pdo->prepare("SELECT * FROM nc_filecache WHERE owner = ? AND (path = ? OR path LIKE ? ESCAPE '\\') ORDER BY length(path)");
            $st->execute([$owner, $path, self::below($path)]);
            $rows = array_map(static fn (array $r) => ['rel' => substr($r['path'], strlen($path))] + $r, $st->fetchAll(\PDO::FETCH_ASSOC));
            if (!is_dir(dirname($diskTarget)) && !mkdir(dirname($diskTarget), 0700, true) && !is_dir(dirname($diskTarget))) {
                throw new \RuntimeException('cannot create ' . dirname($diskTarget));
            }
            if (!rename($this->diskPath($owner, $path), $diskTarget)) {
                throw new \RuntimeException("cannot move $path out of the tree on disk");
            }
            $this->pdo->prepare("DELETE FROM nc_filecache WHERE owner = ? AND (path = ? OR path LIKE ? ESCAPE '\\')")
                ->execute([$owner, $path, self::below($path)]);
            $this->propagate($owner, $path, -(int) $row['size'], time());
            return $rows;
        });
    }

    /** Puts rows from detach() back at $path (which must not exist), content from $diskSource. */
    public function attach(string $owner, string $path, array $rows, string $diskSource): array
    {
        return $this->write(function () use ($owner, $path, $rows, $diskSource) {
            $parent = $this->get($owner, self::parentOf($path));
            if ($parent === null || $parent['mimetype'] !== self::FOLDER_MIME || $this->get($owner, $path) !== null) {
                throw new \RuntimeException("cannot attach at $path");
            }
            if (!rename($diskSource, $this->diskPath($owner, $path))) {
                throw new \RuntimeException("cannot move back to $path on disk");
            }
            $insert = $this->pdo->prepare('INSERT INTO nc_filecache (fileid, owner, path, parent, name, mimetype, mimepart, size, mtime, etag)'
                . ' VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
            foreach ($rows as $r) {
                $full = $path . $r['rel'];
                $insert->execute([$r['fileid'], $owner, $full, $r['rel'] === '' ? $parent['fileid'] : $r['parent'], basename('/' . $full),
                    $r['mimetype'], $r['mimepart'], $r['size'], $r['mtime'], $r['etag']]);
            }
            $top = $rows[0];
            $this->propagate($owner, $path, (int) $top['size'], time());
            return $this->get($owner, $path);
        });
    }

    public static function removeTree(string $disk): void
    {
        if (is_dir($disk) && !is_link($disk)) {
            foreach (scandir($disk) as $entry) {
                if ($entry !== '.' && $entry !== '..') {
                    self::removeTree("$disk/$entry");
                }
            }
            rmdir($disk);
        } elseif (file_exists($disk) || is_link($disk)) {
            unlink($disk);
        }
    }

    /** Renames/moves (the destination must not exist): file ids and ETags travel with it. */
    public function move(string $owner, string $from, string $to): void
    {
        $this->write(function () use ($owner, $from, $to) {
            $row = $this->get($owner, $from);
            $parent = $this->get($owner, self::parentOf($to));
            if ($row === null || $parent === null || $parent['mimetype'] !== self::FOLDER_MIME) {
                throw new \RuntimeException("cannot move $from to $to");
            }
            if (!rename($this->diskPath($owner, $from), $this->diskPath($owner, $to))) {
                throw new \RuntimeException("cannot move $from to $to on disk");
            }
            $this->pdo->prepare('UPDATE nc_filecache SET path = ?, name = ?, parent = ? WHERE fileid = ?')
                ->execute([$to, basename('/' . $to), $parent['fileid'], $row['fileid']]);
            $this->pdo->prepare("UPDATE nc_filecache SET path = ? || substr(path, ?) WHERE owner = ? AND path LIKE ? ESCAPE '\\'")
                ->execute([$to, strlen($from) + 1, $owner, self::below($from)]);
            $now = time();
            $this->propagate($owner, $from, -(int) $row['size'], $now);
            $this->propagate($owner, $to, (int) $row['size'], $now);
        });
    }

    /** Copies a file or folder tree (the destination must not exist): new file ids, new ETags. */
    public function copy(string $owner, string $from, string $to): void
    {
        $this->write(function () use ($owner, $from, $to) {
            $row = $this->get($owner, $from);
            $parent = $this->get($owner, self::parentOf($to));
            if ($row === null || $parent === null || $parent['mimetype'] !== self::FOLDER_MIME) {
                throw new \RuntimeException("cannot copy $from to $to");
            }
            $st = $this->pdo->prepare("SELECT * FROM nc_filecache WHERE owner = ? AND (path = ? OR path LIKE ? ESCAPE '\\') ORDER BY length(path)");
            $st->execute([$owner, $from, self::below($from)]);
            $ids = [$row['parent'] => $parent['fileid']];
            $insert = $this->pdo->prepare('INSERT INTO nc_filecache (owner, path, parent, name, mimetype, mimepart, size, mtime, etag)'
                . ' VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
            foreach ($st->fetchAll(\PDO::FETCH_ASSOC) as $r) {
                $path = $to . substr($r['path'], strlen($from));
                $disk = $this->diskPath($owner, $path);
                if ($r['mimetype'] === self::FOLDER_MIME) {
                    mkdir($disk, 0700);
                    $etag = self::folderEtag();
                } else {
                    copy($this->diskPath($owner, $r['path']), $disk);
                    clearstatcache(true, $disk);
                    $etag = self::fileEtag(stat($disk));
                }
                $insert->execute([$owner, $path, $ids[$r['parent']], basename('/' . $path), $r['mimetype'], $r['mimepart'], $r['size'], $r['mtime'], $etag]);
                $ids[$r['fileid']] = (int) $this->pdo->lastInsertId();
            }
            $this->propagate($owner, $to, (int) $row['size'], time());
        });
    }
}

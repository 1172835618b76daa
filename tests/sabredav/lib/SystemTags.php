<?php
// Collaborative (system) tags at /remote.php/dav/systemtags/ and
// /remote.php/dav/systemtags-relations/files/<fileid>/, imitating (not copying) Nextcloud's
// apps/dav/lib/SystemTag/ and lib/private/SystemTag/:
//   - SystemTagsByIdCollection.php: `systemtags`, one SystemTagNode per tag id; a user who is
//     not an admin sees only user-visible tags (others: NotFound 'Tag with id … not found');
//     a non-numeric id is BadRequest 'Invalid tag id'; no listing-independent create (POST below);
//   - SystemTagPlugin.php: POST of JSON {"name", "userVisible"?, "userAssignable"?} on
//     systemtags/ creates a tag: 201 with Content-Location <url>/<id>; no name → 400 'Missing
//     "name" attribute'; not JSON → 415; invisible or restricted tags by a non-admin → 400 'Not
//     sufficient permissions'; an existing name → 409 'Tag already exists'
//     (lib/private/SystemTag/SystemTagManager.php createTag: any tag of that name ignoring case,
//     visible or not; the name cut at 64 bytes); properties
//     oc:id, oc:display-name, oc:user-visible, oc:user-assignable, oc:can-assign, nc:color
//     ('' when none; oc:groups for admins, getetag, nc:files-assigned, nc:object-ids and the
//     files' nc:system-tags are not served);
//   - SystemTagsRelationsCollection.php / SystemTagsObjectTypeCollection.php: `files`, whose
//     children are the file ids the user can reach (else NotFound 'Entity does not exist or is
//     not available');
//   - SystemTagsObjectMappingCollection.php: PUT <fileid>/<tagid> assigns (sabre: 201; an
//     assigned tag is an existing non-file node, so a second PUT is 409), an unknown or
//     invisible tag → 412 'Tag with id … does not exist, cannot assign', not assignable → 403
//     'No permission to assign tag …'; PROPFIND lists the visible assigned tags;
//   - SystemTagMappingNode.php: DELETE unassigns (204); not assignable → 403 'No permission to
//     unassign tag …'.
// Nobody is an admin here; tags made by an admin are seeded with the test API. Tables
// nc_systemtag (oc_systemtag: name, visibility, editable) and nc_systemtag_object_mapping.
declare(strict_types=1);

namespace NcTest;

use Sabre\DAV;
use Sabre\HTTP\RequestInterface;
use Sabre\HTTP\ResponseInterface;

final class SystemTags
{
    public function __construct(private \PDO $pdo)
    {
    }

    public static function schema(): string
    {
        return <<<'SQL'
            CREATE TABLE IF NOT EXISTS nc_systemtag (
              id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, visibility INTEGER NOT NULL,
              editable INTEGER NOT NULL, color TEXT, UNIQUE (name, visibility, editable));
            CREATE TABLE IF NOT EXISTS nc_systemtag_object_mapping (
              objectid TEXT NOT NULL, objecttype TEXT NOT NULL, systemtagid INTEGER NOT NULL,
              PRIMARY KEY (objecttype, objectid, systemtagid));
            CREATE TABLE IF NOT EXISTS nc_favorite (owner TEXT NOT NULL, fileid INTEGER NOT NULL, PRIMARY KEY (owner, fileid));
            SQL;
    }

    /**
     * SystemTagManager::createTag (stable32): null if any tag has that name ignoring case
     * (mb_strtolower, whatever its visibility); the name is cut at 64 bytes (the column's size).
     */
    public function create(string $name, bool $visible, bool $assignable): ?array
    {
        foreach ($this->all() as $tag) {
            if (mb_strtolower($tag['name']) === mb_strtolower($name)) {
                return null;
            }
        }
        $st = $this->pdo->prepare('INSERT OR IGNORE INTO nc_systemtag (name, visibility, editable) VALUES (?, ?, ?)');
        $st->execute([substr($name, 0, 64), (int) $visible, (int) $assignable]);
        if ($st->rowCount() === 0) {
            return null;
        }
        return $this->byId((string) $this->pdo->lastInsertId());
    }

    public function byId(string $id): ?array
    {
        if (!ctype_digit($id)) {
            throw new DAV\Exception\BadRequest('Invalid tag id');
        }
        $st = $this->pdo->prepare('SELECT * FROM nc_systemtag WHERE id = ?');
        $st->execute([(int) $id]);
        $row = $st->fetch(\PDO::FETCH_ASSOC);
        return $row === false ? null : $row;
    }

    /** @return array[] every tag, by name */
    public function all(): array
    {
        return $this->pdo->query('SELECT * FROM nc_systemtag ORDER BY name, id')->fetchAll(\PDO::FETCH_ASSOC);
    }

    /** SystemTagManager::canUserSeeTag for a user who is not an admin. */
    public static function canSee(array $tag): bool
    {
        return (bool) $tag['visibility'];
    }

    /** canUserAssignTag for a user who is not an admin (no group restrictions here). */
    public static function canAssign(array $tag): bool
    {
        return (bool) $tag['visibility'] && (bool) $tag['editable'];
    }

    /** @return string[] tag ids assigned to a file */
    public function tagIdsOf(int $fileId): array
    {
        $st = $this->pdo->prepare("SELECT systemtagid FROM nc_systemtag_object_mapping WHERE objecttype = 'files' AND objectid = ? ORDER BY systemtagid");
        $st->execute([(string) $fileId]);
        return array_map('strval', $st->fetchAll(\PDO::FETCH_COLUMN));
    }

    /** @return int[] ids of the files with this tag */
    public function fileIdsWith(string $tagId): array
    {
        $st = $this->pdo->prepare("SELECT objectid FROM nc_systemtag_object_mapping WHERE objecttype = 'files' AND systemtagid = ?");
        $st->execute([(int) $tagId]);
        return array_map('intval', $st->fetchAll(\PDO::FETCH_COLUMN));
    }

    public function assign(int $fileId, string $tagId): void
    {
        $this->pdo->prepare("INSERT OR IGNORE INTO nc_systemtag_object_mapping (objectid, objecttype, systemtagid) VALUES (?, 'files', ?)")
            ->execute([(string) $fileId, (int) $tagId]);
    }

    public function unassign(int $fileId, string $tagId): void
    {
        $this->pdo->prepare("DELETE FROM nc_systemtag_object_mapping WHERE objecttype = 'files' AND objectid = ? AND systemtagid = ?")
            ->execute([(string) $fileId, (int) $tagId]);
    }

    /** The user's file or folder with this id (Folder::getById on the user's folder), or null. */
    public function fileRow(string $owner, string $id): ?array
    {
        if (!ctype_digit($id)) {
            return null;
        }
        $st = $this->pdo->prepare("SELECT * FROM nc_filecache WHERE owner = ? AND fileid = ? AND path <> ''");
        $st->execute([$owner, (int) $id]);
        $row = $st->fetch(\PDO::FETCH_ASSOC);
        return $row === false ? null : $row;
    }
}

/** A tag's properties, shared by SystemTagNode and SystemTagMappingNode. */
interface HasSystemTag
{
    public function getSystemTag(): array;
}

/** SystemTagNode.php */
final class SystemTagNode extends DAV\Node implements HasSystemTag
{
    public function __construct(private array $tag)
    {
    }

    public function getSystemTag(): array
    {
        return $this->tag;
    }

    public function getName()
    {
        return (string) $this->tag['id'];
    }

    public function getLastModified()
    {
        return null;
    }

    public function delete()
    {
        throw new DAV\Exception\Forbidden('No permission to delete tag ' . $this->tag['id']);
    }

    public function setName($name)
    {
        throw new DAV\Exception\MethodNotAllowed();
    }
}

/** SystemTagsByIdCollection.php */
final class SystemTagsByIdCollection extends DAV\Collection
{
    public function __construct(private SystemTags $tags)
    {
    }

    public function getName()
    {
        return 'systemtags';
    }

    public function getChild($name)
    {
        $tag = $this->tags->byId((string) $name);
        if ($tag === null || !SystemTags::canSee($tag)) {
            throw new DAV\Exception\NotFound('Tag with id ' . $name . ' not found');
        }
        return new SystemTagNode($tag);
    }

    public function getChildren()
    {
        return array_values(array_map(fn (array $t) => new SystemTagNode($t), array_filter($this->tags->all(), [SystemTags::class, 'canSee'])));
    }

    public function childExists($name)
    {
        try {
            $tag = $this->tags->byId((string) $name);
        } catch (DAV\Exception\BadRequest $e) {
            return false;
        }
        return $tag !== null && SystemTags::canSee($tag);
    }

    public function createFile($name, $data = null)
    {
        throw new DAV\Exception\Forbidden('Permission denied to create nodes');
    }

    public function createDirectory($name)
    {
        throw new DAV\Exception\Forbidden('Permission denied to create collections');
    }
}

/** SystemTagsRelationsCollection.php: `systemtags-relations`, holding `files`. */
final class SystemTagsRelationsCollection extends DAV\SimpleCollection
{
    public function __construct(SystemTags $tags, \Closure $currentUser)
    {
        parent::__construct('systemtags-relations', [new SystemTagsObjectTypeCollection($tags, $currentUser)]);
    }
}

/** SystemTagsObjectTypeCollection.php for the object type `files`. */
final class SystemTagsObjectTypeCollection extends DAV\Collection
{
    public function __construct(private SystemTags $tags, private \Closure $currentUser)
    {
    }

    public function getName()
    {
        return 'files';
    }

    public function getChild($name)
    {
        $user = ($this->currentUser)();
        if ($user === null || $this->tags->fileRow($user, (string) $name) === null) {
            throw new DAV\Exception\NotFound('Entity does not exist or is not available');
        }
        return new SystemTagsObjectMappingCollection((int) $name, $this->tags);
    }

    public function getChildren()
    {
        throw new DAV\Exception\MethodNotAllowed();
    }

    public function childExists($name)
    {
        $user = ($this->currentUser)();
        return $user !== null && $this->tags->fileRow($user, (string) $name) !== null;
    }

    public function createFile($name, $data = null)
    {
        throw new DAV\Exception\Forbidden('Permission denied to create nodes');
    }

    public function createDirectory($name)
    {
        throw new DAV\Exception\Forbidden('Permission denied to create collections');
    }
}

/** SystemTagsObjectMappingCollection.php */
final class SystemTagsObjectMappingCollection extends DAV\Collection
{
    public function __construct(private int $fileId, private SystemTags $tags)
    {
    }

    public function getName()
    {
        return (string) $this->fileId;
    }

    public function createFile($name, $data = null)
    {
        $tag = $this->tags->byId((string) $name);
        if ($tag === null || !SystemTags::canSee($tag)) {
            throw new DAV\Exception\PreconditionFailed('Tag with id ' . $name . ' does not exist, cannot assign');
        }
        if (!SystemTags::canAssign($tag)) {
            throw new DAV\Exception\Forbidden('No permission to assign tag ' . $name);
        }
        $this->tags->assign($this->fileId, (string) $name);
        return null;
    }

    public function createDirectory($name)
    {
        throw new DAV\Exception\Forbidden('Permission denied to create collections');
    }

    public function getChild($name)
    {
        $tag = $this->tags->byId((string) $name);
        if ($tag !== null && in_array((string) $name, $this->tags->tagIdsOf($this->fileId), true) && SystemTags::canSee($tag)) {
            return new SystemTagMappingNode($tag, $this->fileId, $this->tags);
        }
        throw new DAV\Exception\NotFound('Tag with id ' . $name . ' not present for object ' . $this->fileId);
    }

    public function getChildren()
    {
        $nodes = [];
        foreach ($this->tags->tagIdsOf($this->fileId) as $id) {
            $tag = $this->tags->byId($id);
            if ($tag !== null && SystemTags::canSee($tag)) {
                $nodes[] = new SystemTagMappingNode($tag, $this->fileId, $this->tags);
            }
        }
        return $nodes;
    }

    public function childExists($name)
    {
        $tag = $this->tags->byId((string) $name);
        return $tag !== null && SystemTags::canSee($tag) && in_array((string) $name, $this->tags->tagIdsOf($this->fileId), true);
    }

    public function delete()
    {
        throw new DAV\Exception\Forbidden('Permission denied to delete this collection');
    }

    public function setName($name)
    {
        throw new DAV\Exception\Forbidden('Permission denied to rename this collection');
    }
}

/** SystemTagMappingNode.php */
final class SystemTagMappingNode extends DAV\Node implements HasSystemTag
{
    public function __construct(private array $tag, private int $fileId, private SystemTags $tags)
    {
    }

    public function getSystemTag(): array
    {
        return $this->tag;
    }

    public function getName()
    {
        return (string) $this->tag['id'];
    }

    public function getLastModified()
    {
        return null;
    }

    public function setName($name)
    {
        throw new DAV\Exception\MethodNotAllowed();
    }

    public function delete()
    {
        if (!SystemTags::canSee($this->tag)) {
            throw new DAV\Exception\NotFound('Tag with id ' . $this->tag['id'] . ' not found');
        }
        if (!SystemTags::canAssign($this->tag)) {
            throw new DAV\Exception\Forbidden('No permission to unassign tag ' . $this->tag['id']);
        }
        $this->tags->unassign($this->fileId, (string) $this->tag['id']);
    }
}

/** SystemTagPlugin.php: POST to create, the tags' properties. */
final class SystemTagPlugin extends DAV\ServerPlugin
{
    private const OC = '{http://owncloud.org/ns}';

    private DAV\Server $server;

    public function __construct(private SystemTags $tags)
    {
    }

    public function initialize(DAV\Server $server)
    {
        $this->server = $server;
        $server->protectedProperties[] = self::OC . 'id';
        $server->on('propFind', [$this, 'propFind']);
        $server->on('method:POST', [$this, 'httpPost']);
    }

    public function httpPost(RequestInterface $request, ResponseInterface $response)
    {
        $node = $this->server->tree->getNodeForPath($request->getPath());
        if (!$node instanceof SystemTagsByIdCollection && !$node instanceof SystemTagsObjectMappingCollection) {
            return null;
        }
        $tag = $this->createTag($request->getBodyAsString(), (string) $request->getHeader('Content-Type'));
        if ($node instanceof SystemTagsObjectMappingCollection) {
            $node->createFile((string) $tag['id']);
            $url = $request->getBaseUrl() . 'systemtags/';
        } else {
            $url = $request->getUrl();
        }
        if (!str_ends_with($url, '/')) {
            $url .= '/';
        }
        $response->setHeader('Content-Location', $url . $tag['id']);
        $response->setStatus(201);
        return false;
    }

    private function createTag(string $body, string $contentType): array
    {
        if (explode(';', $contentType)[0] !== 'application/json') {
            throw new DAV\Exception\UnsupportedMediaType();
        }
        $data = json_decode($body, true);
        if (!is_array($data) || !isset($data['name'])) {
            throw new DAV\Exception\BadRequest('Missing "name" attribute');
        }
        $visible = isset($data['userVisible']) ? (bool) $data['userVisible'] : true;
        $assignable = isset($data['userAssignable']) ? (bool) $data['userAssignable'] : true;
        if (!$visible || !$assignable || !empty($data['groups'])) {
            throw new DAV\Exception\BadRequest('Not sufficient permissions');
        }
        $tag = $this->tags->create((string) $data['name'], $visible, $assignable);
        if ($tag === null) {
            throw new DAV\Exception\Conflict('Tag already exists');
        }
        return $tag;
    }

    public function propFind(DAV\PropFind $propFind, DAV\INode $node): void
    {
        if (!$node instanceof HasSystemTag) {
            return;
        }
        $tag = $node->getSystemTag();
        $propFind->handle(self::OC . 'id', fn () => (string) $tag['id']);
        $propFind->handle(self::OC . 'display-name', fn () => $tag['name']);
        $propFind->handle(self::OC . 'user-visible', fn () => $tag['visibility'] ? 'true' : 'false');
        $propFind->handle(self::OC . 'user-assignable', fn () => $tag['editable'] ? 'true' : 'false');
        $propFind->handle(self::OC . 'can-assign', fn () => SystemTags::canAssign($tag) ? 'true' : 'false');
        $propFind->handle('{http://nextcloud.org/ns}color', fn () => $tag['color'] ?? '');
    }
}

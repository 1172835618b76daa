<?php
// Favourites of the files tree, imitating (not copying) Nextcloud's
// apps/dav/lib/Connector/Sabre/TagsPlugin.php: PROPFIND oc:favorite answers 1 or 0 for the
// signed-in user; PROPPATCH oc:favorite with 1 or "true" marks the file or folder a favourite,
// anything else unmarks it (200 for the property either way; removing the property: 204).
// Nextcloud keeps favourites as the user's tag `_$!<Favorite>!$_` (lib/private/Tags.php,
// oc_vcategory_to_object); here they are rows of nc_favorite. Personal tags (oc:tags) are not
// imitated.
declare(strict_types=1);

namespace NcTest;

use Sabre\DAV;

final class TagsPlugin extends DAV\ServerPlugin
{
    public const FAVORITE = '{http://owncloud.org/ns}favorite';

    private DAV\Server $server;

    /** @param \Closure(): ?string $currentUser */
    public function __construct(private \PDO $pdo, private \Closure $currentUser)
    {
    }

    public function initialize(DAV\Server $server)
    {
        $this->server = $server;
        $server->on('propFind', [$this, 'propFind']);
        $server->on('propPatch', [$this, 'propPatch']);
    }

    /** @return int[] the user's favourite file ids (ITags::getFavorites) */
    public function favorites(string $user): array
    {
        $st = $this->pdo->prepare('SELECT fileid FROM nc_favorite WHERE owner = ? ORDER BY fileid');
        $st->execute([$user]);
        return array_map('intval', $st->fetchAll(\PDO::FETCH_COLUMN));
    }

    private function isFavorite(string $user, int $fileId): bool
    {
        $st = $this->pdo->prepare('SELECT COUNT(*) FROM nc_favorite WHERE owner = ? AND fileid = ?');
        $st->execute([$user, $fileId]);
        return (int) $st->fetchColumn() > 0;
    }

    public function propFind(DAV\PropFind $propFind, DAV\INode $node): void
    {
        $user = ($this->currentUser)();
        if (!$node instanceof Node || $user === null) {
            return;
        }
        $propFind->handle(self::FAVORITE, fn () => $this->isFavorite($user, $node->getInternalFileId()) ? 1 : 0);
    }

    public function propPatch(string $path, DAV\PropPatch $propPatch): void
    {
        $user = ($this->currentUser)();
        $node = $this->server->tree->getNodeForPath($path);
        if (!$node instanceof Node || $user === null) {
            return;
        }
        $propPatch->handle(self::FAVORITE, function ($state) use ($user, $node) {
            if ((int) $state === 1 || $state === 'true') {
                $this->pdo->prepare('INSERT OR IGNORE INTO nc_favorite (owner, fileid) VALUES (?, ?)')->execute([$user, $node->getInternalFileId()]);
            } else {
                $this->pdo->prepare('DELETE FROM nc_favorite WHERE owner = ? AND fileid = ?')->execute([$user, $node->getInternalFileId()]);
            }
            return $state === null ? 204 : 200;
        });
    }
}

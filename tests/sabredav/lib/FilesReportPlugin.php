<?php
// REPORT oc:filter-files on a folder of the files tree, imitating (not copying) Nextcloud's
// apps/dav/lib/Connector/Sabre/FilesReportPlugin.php (onReport, processFilterRulesForFileIDs,
// processFilterRulesForFileNodes, findNodesByFileIds, prepareResponses):
//   - body <oc:filter-files> with <d:prop> (the properties answered), <oc:filter-rules> and
//     <d:limit><d:nresults>…</d:nresults><nc:firstresult>…</nc:firstresult></d:limit>;
//   - no filter rules → 400 'Missing filter-rule block in request';
//   - <oc:favorite> → the user's favourites below the folder; each <oc:systemtag>ID</oc:systemtag>
//     → the files carrying all of those tags (a tag the user cannot see or that does not exist →
//     412 'Cannot filter by non-existing tag'); with both, the files in both — but, as in
//     Nextcloud, when the tags match nothing the favourites are answered alone;
//   - 207 multistatus, hrefs below /remote.php/dav/files/<user>/, folders with a trailing slash.
// Any other REPORT on a folder is left to sabre (415 ReportNotSupported).
declare(strict_types=1);

namespace NcTest;

use Sabre\DAV;

final class FilesReportPlugin extends DAV\ServerPlugin
{
    private const OC = '{http://owncloud.org/ns}';
    private const NC = '{http://nextcloud.org/ns}';

    private DAV\Server $server;

    /** @param \Closure(): ?string $currentUser */
    public function __construct(private \PDO $pdo, private SystemTags $tags, private TagsPlugin $favorites, private \Closure $currentUser)
    {
    }

    public function initialize(DAV\Server $server)
    {
        $this->server = $server;
        $server->on('report', [$this, 'onReport']);
    }

    public function getSupportedReportSet($uri)
    {
        return [self::OC . 'filter-files'];
    }

    public function onReport($reportName, $report, $uri)
    {
        $target = $this->server->tree->getNodeForPath($uri);
        if (!$target instanceof Directory || $reportName !== self::OC . 'filter-files') {
            return null;
        }
        $user = ($this->currentUser)();
        $props = [];
        $rules = [];
        $limit = null;
        $offset = 0;
        foreach (is_array($report) ? $report : [] as $part) {
            if ($part['name'] === self::OC . 'filter-rules') {
                $rules = is_array($part['value']) ? $part['value'] : [];
            } elseif ($part['name'] === '{DAV:}prop') {
                foreach (is_array($part['value']) ? $part['value'] : [] as $prop) {
                    $props[] = $prop['name'];
                }
            } elseif ($part['name'] === '{DAV:}limit') {
                foreach (is_array($part['value']) ? $part['value'] : [] as $l) {
                    if ($l['name'] === '{DAV:}nresults') {
                        $limit = (int) $l['value'];
                    } elseif ($l['name'] === self::NC . 'firstresult') {
                        $offset = (int) $l['value'];
                    }
                }
            }
        }
        if ($rules === []) {
            throw new DAV\Exception\BadRequest('Missing filter-rule block in request');
        }
        $favorite = false;
        $tagIds = [];
        foreach ($rules as $rule) {
            if ($rule['name'] === self::OC . 'favorite') {
                $favorite = true;
            } elseif ($rule['name'] === self::OC . 'systemtag') {
                $tagIds[] = trim((string) $rule['value']);
            }
        }
        $favoriteIds = $favorite ? $this->favorites->favorites($user) : [];
        $tagged = null;
        foreach ($tagIds as $id) {
            try {
                $tag = ctype_digit($id) ? $this->tags->byId($id) : null;
            } catch (DAV\Exception\BadRequest $e) {
                $tag = null;
            }
            if ($tag === null || !SystemTags::canSee($tag)) {
                throw new DAV\Exception\PreconditionFailed('Cannot filter by non-existing tag');
            }
            $ids = $this->tags->fileIdsWith($id);
            $tagged = $tagged === null ? $ids : array_values(array_intersect($tagged, $ids));
        }
        $tagged ??= [];
        if ($tagged !== [] && $favorite) {
            $ids = array_values(array_intersect($tagged, $favoriteIds));
        } elseif ($tagged === []) {
            $ids = $favoriteIds;
        } else {
            $ids = $tagged;
        }
        $rows = $this->rowsBelow($user, $target->getPath(), $ids);
        $rows = array_slice($rows, $offset, $limit);
        $home = $this->server->tree->getNodeForPath('files/' . $user);
        $results = [];
        foreach ($rows as $row) {
            $node = $home->nodeFor($row);
            $propFind = new DAV\PropFind('files/' . $user . '/' . $row['path'], $props);
            $this->server->getPropertiesByNode($propFind, $node);
            $result = $propFind->getResultForMultiStatus();
            $result['href'] = 'files/' . $user . '/' . $row['path'] . ($node instanceof Directory ? '/' : '');
            $results[] = $result;
        }
        $this->server->httpResponse->setStatus(207);
        $this->server->httpResponse->setHeader('Content-Type', 'application/xml; charset=utf-8');
        $this->server->httpResponse->setBody($this->server->generateMultiStatus($results));
        return false;
    }

    /** The user's rows with these ids below $folder ('' = everywhere), by id. */
    private function rowsBelow(string $user, string $folder, array $ids): array
    {
        if ($ids === []) {
            return [];
        }
        $marks = implode(',', array_fill(0, count($ids), '?'));
        $sql = "SELECT * FROM nc_filecache WHERE owner = ? AND fileid IN ($marks) AND path <> ''";
        $params = [$user, ...$ids];
        if ($folder !== '') {
            $sql .= " AND path LIKE ? ESCAPE '\\'";
            $params[] = addcslashes($folder, '\\_%') . '/%';
        }
        $st = $this->pdo->prepare($sql . ' ORDER BY fileid');
        $st->execute($params);
        return $st->fetchAll(\PDO::FETCH_ASSOC);
    }
}

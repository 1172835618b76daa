<?php
// SEARCH (RFC 5323) over the signed-in user's files, for icewind/searchdav's real SearchPlugin.
// Imitates (does not copy) Nextcloud's apps/dav/lib/Files/FileSearchBackend.php and
// lib/private/Files/Cache/SearchBuilder.php as they run on SQLite:
//   - arbiter path '' (SEARCH is sent to /remote.php/dav/), scopes are folders such as
//     /files/<user>/<folder>; every scope is searched recursively (Nextcloud ignores the depth);
//   - searchable: displayname (name), getcontenttype (mimetype), getlastmodified (mtime),
//     oc:size, oc:fileid, oc:favorite (boolean: the literal "yes" is true; `eq` only, the user's
//     favourites as SearchBuilder joins them), oc:owner-id (must be the current user; it only
//     limits to the home);
//   - `like` on a name is `lower(name) LIKE lower(?) ESCAPE '\'` (SqliteExpressionBuilder::iLike),
//     so % and _ are wildcards and a backslash escapes them; `like 'type/%'` on the content type
//     compares the mime part; `not` is only allowed around a single comparison and becomes the
//     negated comparison (SearchBuilder's negative map; its NOT LIKE has no ESCAPE clause);
//   - at most 100 results unless <d:limit><d:nresults> says otherwise.
// Errors are \InvalidArgumentException, as in Nextcloud; searchdav lets them through to sabre.
declare(strict_types=1);

namespace NcTest;

use Sabre\DAV;
use SearchDAV\Backend\ISearchBackend;
use SearchDAV\Backend\SearchPropertyDefinition as Def;
use SearchDAV\Backend\SearchResult;
use SearchDAV\Query\Literal;
use SearchDAV\Query\Operator;
use SearchDAV\Query\Order;
use SearchDAV\Query\Query;

final class FileSearchBackend implements ISearchBackend
{
    private const OPERATOR_LIMIT = 100;
    private const OC = '{http://owncloud.org/ns}';
    /** SearchBuilder::validateComparison: the comparisons each column allows. */
    private const COMPARISONS = [
        'mimetype' => ['eq', 'like'], 'mtime' => ['eq', 'gt', 'lt', 'gte', 'lte'], 'name' => ['eq', 'like'],
        'size' => ['eq', 'gt', 'lt', 'gte', 'lte'], 'fileid' => ['eq'], 'favorite' => ['eq'],
    ];
    private const SQL_OP = ['eq' => '=', 'gt' => '>', 'gte' => '>=', 'lt' => '<', 'lte' => '<='];
    private const NEGATED = ['eq' => 'neq', 'gt' => 'lte', 'gte' => 'lt', 'lt' => 'gte', 'lte' => 'gt', 'like' => 'notlike'];

    /** @param \Closure(): ?string $currentUser */
    public function __construct(private DAV\Server $server, private FileCache $cache, private \PDO $pdo, private \Closure $currentUser)
    {
    }

    public function getArbiterPath(): string
    {
        return '';
    }

    public function isValidScope(string $href, $depth, ?string $path): bool
    {
        try {
            return $path !== null && $this->server->tree->getNodeForPath($path) instanceof Directory;
        } catch (DAV\Exception\NotFound $e) {
            return false;
        }
    }

    public function getPropertyDefinitionsForScope(string $href, ?string $path): array
    {
        return [
            new Def('{DAV:}displayname', true, true, true),
            new Def('{DAV:}getcontenttype', true, true, true),
            new Def('{DAV:}getlastmodified', true, true, true, Def::DATATYPE_DATETIME),
            new Def(self::OC . 'size', true, true, true, Def::DATATYPE_NONNEGATIVE_INTEGER),
            new Def(self::OC . 'fileid', true, true, false, Def::DATATYPE_NONNEGATIVE_INTEGER),
            new Def(self::OC . 'favorite', true, true, true, Def::DATATYPE_BOOLEAN),
            new Def(self::OC . 'owner-id', true, true, false),
            new Def('{DAV:}resourcetype', true, false, false),
            new Def('{DAV:}getcontentlength', true, false, false),
            new Def('{DAV:}getetag', true, false, false),
            new Def(self::OC . 'permissions', true, false, false),
            new Def(self::OC . 'owner-display-name', true, false, false),
            new Def('{http://nextcloud.org/ns}has-preview', true, false, false, Def::DATATYPE_BOOLEAN),
            new Def(self::OC . 'id', true, false, false, Def::DATATYPE_NONNEGATIVE_INTEGER),
        ];
    }

    public function preloadPropertyFor(array $nodes, array $requestProperties): void
    {
        $this->server->emit('preloadProperties', [$nodes, $requestProperties]);
    }

    public function search(Query $search): array
    {
        $user = ($this->currentUser)();
        if (count($search->from) === 0) {
            throw new \InvalidArgumentException('You need to specify a scope for the search.');
        }
        $params = [$user];
        $scopes = [];
        foreach ($search->from as $scope) {
            if ($scope->path === null) {
                throw new \InvalidArgumentException('Using uri\'s as scope is not supported, please use a path relative to the search arbiter instead');
            }
            $node = $this->server->tree->getNodeForPath($scope->path);
            if (!$node instanceof Directory) {
                throw new \InvalidArgumentException('Search is only supported on directories');
            }
            if ($node->getPath() === '') {
                $scopes[] = "path <> ''";
            } else {
                $scopes[] = "path LIKE ? ESCAPE '\\'";
                $params[] = addcslashes($node->getPath(), '\\_%') . '/%';
            }
        }
        $where = $search->where;
        if ($where !== null && $this->countOperators($where) > self::OPERATOR_LIMIT) {
            throw new \InvalidArgumentException('Invalid search query, maximum operator limit of ' . self::OPERATOR_LIMIT . ' exceeded');
        }
        $sql = 'SELECT * FROM nc_filecache WHERE owner = ? AND (' . implode(' OR ', $scopes) . ')';
        $condition = $where === null ? null : $this->expression($where, $params, $user, true);
        if ($condition !== null) {
            $sql .= " AND $condition";
        }
        $orders = array_map(fn (Order $o) => $this->orderColumn($o) . ($o->order === Order::DESC ? ' DESC' : ' ASC'), $search->orderBy);
        $orders[] = 'fileid ASC';
        $sql .= ' ORDER BY ' . implode(', ', $orders) . ' LIMIT ? OFFSET ?';
        $params[] = $search->limit->maxResults !== 0 ? (int) $search->limit->maxResults : 100;
        $params[] = (int) $search->limit->firstResult;
        $st = $this->pdo->prepare($sql);
        $st->execute($params);
        $home = $this->server->tree->getNodeForPath('files/' . $user);
        return array_map(
            fn (array $row) => new SearchResult($home->nodeFor($row), '/files/' . $user . '/' . $row['path']),
            $st->fetchAll(\PDO::FETCH_ASSOC),
        );
    }

    private function countOperators(Operator $op): int
    {
        return in_array($op->type, [Operator::OPERATION_AND, Operator::OPERATION_OR, Operator::OPERATION_NOT], true)
            ? array_sum(array_map(fn ($a) => $a instanceof Operator ? $this->countOperators($a) : 0, $op->arguments))
            : 1;
    }

    /** SQL for one operator (with its parameters appended to $params); null for "no condition". */
    private function expression(Operator $op, array &$params, string $user, bool $topLevelAnd): ?string
    {
        $type = substr($op->type, strlen('{DAV:}'));
        switch ($op->type) {
            case Operator::OPERATION_AND:
            case Operator::OPERATION_OR:
                $parts = [];
                foreach ($op->arguments as $arg) {
                    $part = $this->expression($arg, $params, $user, $topLevelAnd && $op->type === Operator::OPERATION_AND);
                    if ($part !== null) {
                        $parts[] = "($part)";
                    }
                }
                return $parts === [] ? null : implode($type === 'and' ? ' AND ' : ' OR ', $parts);
            case Operator::OPERATION_NOT:
                $inner = $op->arguments[0] ?? null;
                if (!$inner instanceof Operator || in_array($inner->type, [Operator::OPERATION_AND, Operator::OPERATION_OR, Operator::OPERATION_NOT], true)) {
                    throw new \InvalidArgumentException('Binary operators inside "not" is not supported');
                }
                return $this->comparison($inner, $params, $user, true, false);
            default:
                return $this->comparison($op, $params, $user, false, $topLevelAnd);
        }
    }

    private function comparison(Operator $op, array &$params, string $user, bool $negate, bool $topLevelAnd): ?string
    {
        $type = substr($op->type, strlen('{DAV:}'));
        if ($op->type === Operator::OPERATION_IS_COLLECTION) {
            $params[] = FileCache::FOLDER_MIME;
            return $negate ? 'mimetype <> ?' : 'mimetype = ?';
        }
        if (!in_array($type, ['eq', 'gt', 'gte', 'lt', 'lte', 'like'], true)) {
            throw new \InvalidArgumentException('Unsupported operation ' . $type . ' (' . $op->type . ')');
        }
        if (count($op->arguments) !== 2 || !$op->arguments[0] instanceof Def || !$op->arguments[1] instanceof Literal) {
            throw new \InvalidArgumentException('Invalid arguments for ' . $type . ' operation');
        }
        [$prop, $literal] = $op->arguments;
        if ($prop->name === self::OC . 'owner-id') {
            // FileSearchBackend::extractWhereValue: only `eq` with the current user, not under or/not.
            if ($type !== 'eq' || $negate || !$topLevelAnd || $literal->value !== $user) {
                throw new \InvalidArgumentException("Invalid search value for '{http://owncloud.org/ns}owner-id', only the current user id is allowed");
            }
            return null;
        }
        $column = $this->column($prop);
        $value = $this->cast($prop, $literal->value ?? '');
        if ($column === 'favorite') {
            if ($type !== 'eq') {
                throw new \InvalidArgumentException('Unsupported comparison for field  favorite: ' . $type);
            }
            $params[] = $user;
            return ($value === true) !== $negate
                ? 'fileid IN (SELECT fileid FROM nc_favorite WHERE owner = ?)'
                : 'fileid NOT IN (SELECT fileid FROM nc_favorite WHERE owner = ?)';
        }
        if (in_array($column, ['mtime', 'size', 'fileid'], true) && !is_int($value)) {
            throw new \InvalidArgumentException('Invalid type for field ' . $column);
        }
        if (!in_array($type, self::COMPARISONS[$column], true)) {
            throw new \InvalidArgumentException('Unsupported comparison for field  ' . $column . ': ' . $type);
        }
        if ($column === 'mimetype' && $type === 'like') {
            if (preg_match('|(.+)/%|', (string) $value, $m)) {
                [$column, $value] = ['mimepart', $m[1]];
            } elseif (str_contains((string) $value, '%')) {
                throw new \InvalidArgumentException('Unsupported query value for mimetype: ' . $value . ', only values in the format "mime/type" or "mime/%" are supported');
            }
            $type = 'eq';
        }
        $type = $negate ? self::NEGATED[$type] : $type;
        $params[] = $value;
        return match ($type) {
            'like' => "lower($column) LIKE lower(?) ESCAPE '\\'",
            'notlike' => "$column NOT LIKE ?",
            'neq' => "$column <> ?",
            default => "$column " . self::SQL_OP[$type] . ' ?',
        };
    }

    private function column(Def $prop): string
    {
        return match ($prop->name) {
            '{DAV:}displayname' => 'name',
            '{DAV:}getcontenttype' => 'mimetype',
            '{DAV:}getlastmodified' => 'mtime',
            self::OC . 'size' => 'size',
            self::OC . 'fileid' => 'fileid',
            self::OC . 'favorite' => 'favorite',
            default => throw new \InvalidArgumentException('Unsupported property for search or order: ' . $prop->name),
        };
    }

    private function orderColumn(Order $order): string
    {
        $column = $this->column($order->property);
        return $column === 'mtime' ? 'mtime + 0' : $column;
    }

    /** FileSearchBackend::castValue. */
    private function cast(Def $prop, mixed $value): mixed
    {
        if ($value === '') {
            return '';
        }
        switch ($prop->dataType) {
            case Def::DATATYPE_BOOLEAN:
                return $value === 'yes';
            case Def::DATATYPE_NONNEGATIVE_INTEGER:
            case Def::DATATYPE_INTEGER:
                return is_numeric($value) ? (int) $value : 0;
            case Def::DATATYPE_DATETIME:
                if (is_numeric($value)) {
                    return max(0, (int) $value);
                }
                $date = \DateTime::createFromFormat(\DateTimeInterface::ATOM, (string) $value);
                return $date instanceof \DateTime ? $date->getTimestamp() : 0;
            default:
                return (string) $value;
        }
    }
}

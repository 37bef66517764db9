# -*- coding: utf-8 -*-
# snapshottest: v1 - https://goo.gl/zC4yUc
from __future__ import unicode_literals

from snapshottest import Snapshot


snapshots = Snapshot()

snapshots['test_acknowledge_reports_foreign_unknown_and_malformed_ids_as_errors 1'] = {
    'data': {
        'acknowledgeMessages': {
            'acknowledgedIds': [
                '1'
            ],
            'errors': [
                {
                    'code': 'NOT_FOUND',
                    'field': 'ids',
                    'message': "There is no message with id '2'."
                },
                {
                    'code': 'NOT_FOUND',
                    'field': 'ids',
                    'message': "There is no message with id '404'."
                },
                {
                    'code': 'INVALID',
                    'field': 'ids',
                    'message': "'oops' is not a valid message id."
                }
            ],
            'pendingCount': 0
        }
    }
}

snapshots['test_send_message_stores_one_message_per_distinct_recipient 1'] = {
    'data': {
        'sendMessage': {
            'count': 2,
            'errors': [
            ]
        }
    }
}
